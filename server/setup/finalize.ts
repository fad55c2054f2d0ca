// The install, in a fixed order (after Gitea): write .env → migrate → restore → admin → lock, then
// switch the running process to normal mode. Every stage is idempotent and recorded in a journal
// file as it completes, so a crash can be resumed after a restart; only one install runs at a time
// and later requests (other tabs, other sessions) follow the running one.
import { EventEmitter } from 'node:events'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { envFileEntries, loadConfig, type ConfigValues } from '../config/config.ts'
import { readEnvFile, serializeEnv, writeEnvFile } from '../config/envfile.ts'
import { createPrismaClient, referenceAdmins, referenceSchema } from '../app/schema.ts'
import { migrate, MigrationError } from '../db/migrate.ts'
import { migrationLimit, recordInstallWithRestoredAdmins, removeRestoredUpload, restoreFailure, restoreStage } from '../backup/install.ts'
import type { FieldError, WizardData } from './wizard.ts'
import { withoutEnvironmentKeys } from './preset.ts'
import { cacheRedisUrl } from './steps/cache.ts'

export const STAGES = ['env', 'migrate', 'restore', 'admin', 'lock', 'switch'] as const
export type StageId = typeof STAGES[number]

export interface StageEvent {
  stage: StageId
  status: 'running' | 'done' | 'skipped' | 'failed' | 'progress' | 'waiting'
  /** i18n key + params describing the event */
  message?: FieldError
}

export const JOURNAL_FILE = 'install-journal.json'

/** The `.env` could not be written: its content, for the token holder to place by hand. */
export interface EnvPlacement {
  file: string
  content: string
  entries: Record<string, string>
}

export class FinalizeJob extends EventEmitter {
  readonly events: StageEvent[] = []
  /** 'waiting': paused until the administrator has placed the `.env` by hand */
  state: 'running' | 'waiting' | 'succeeded' | 'failed' = 'running'
  error?: FieldError
  envPlacement?: EnvPlacement
  private placed?: () => void
  readonly done: Promise<void>

  constructor (run: (job: FinalizeJob) => Promise<void>) {
    super()
    this.setMaxListeners(50)
    this.done = run(this).then(
      () => { this.state = 'succeeded'; this.emit('end') },
      (err: unknown) => {
        this.state = 'failed'
        this.error = err instanceof StageFailure ? err.detail : { key: 'setup.finalize.errors.unexpected' }
        this.emit('end')
      })
  }

  /** Running or waiting for the `.env`: a second install request must follow this one. */
  get active (): boolean { return this.state === 'running' || this.state === 'waiting' }

  record (event: StageEvent): void {
    this.events.push(event)
    this.emit('event', event)
  }

  /** Pauses the install until `confirmPlacement` finds the file in place. */
  async waitForPlacement (stage: StageId, placement: EnvPlacement): Promise<void> {
    this.envPlacement = placement
    this.state = 'waiting'
    const placed = new Promise<void>(resolve => { this.placed = resolve })
    this.record({ stage, status: 'waiting', message: { key: 'setup.finalize.envFallback.waiting', params: { file: placement.file } } })
    this.emit('waiting')
    await placed
  }

  /** Checks the file placed by hand; null when it matches (the install then goes on), else why not. */
  async confirmPlacement (): Promise<FieldError | null> {
    const placement = this.envPlacement
    if (this.state !== 'waiting' || !placement) return null
    const problem = await checkPlacedEnv(placement)
    if (problem) return problem
    // Running again before anyone looks: a page opened now follows the install, not the request.
    this.state = 'running'
    this.envPlacement = undefined
    this.placed?.()
    return null
  }
}

/** Compares the file at `placement.file` with what the wizard generated, key by key. */
export async function checkPlacedEnv (placement: EnvPlacement): Promise<FieldError | null> {
  let found: Record<string, string> | null
  try {
    found = await readEnvFile(placement.file)
  } catch {
    return { key: 'setup.finalize.envFallback.unreadable', params: { file: placement.file } }
  }
  if (!found) return { key: 'setup.finalize.envFallback.missing', params: { file: placement.file } }
  // The key is named, never the value: it may be a secret.
  const differs = Object.keys(placement.entries).find(key => found[key] !== placement.entries[key])
  if (differs) return { key: 'setup.finalize.envFallback.differs', params: { file: placement.file, key: differs } }
  return null
}

class StageFailure extends Error {
  constructor (readonly detail: FieldError, options?: { cause?: unknown }) { super(detail.key, options) }
}

export interface FinalizeDeps {
  app: FastifyInstance
  data: WizardData
  /** rebuilds the configuration from the same environment the process started with */
  reloadConfig: () => ReturnType<typeof loadConfig>
  /** opens normal mode; called last */
  switchToNormal: () => Promise<void>
}

let current: FinalizeJob | undefined

/** Starts the install, or returns the one already running (whoever asked for it). */
export function startFinalize (deps: FinalizeDeps): FinalizeJob {
  if (current?.active) return current
  current = new FinalizeJob(job => runFinalize(job, deps))
  return current
}

export function currentFinalize (): FinalizeJob | undefined {
  return current
}

// ---------------------------------------------------------------------------------------------
// The journal: what has been done, and the answers needed to resume, without secrets.

export interface Journal {
  version: 1
  startedAt: string
  updatedAt: string
  /** stage → when it completed, in this run */
  stages: Partial<Record<StageId, string>>
  /** why the last run stopped, when it stopped on an error (a crash leaves no trace here) */
  failed?: { stage: StageId, error: FieldError }
  /**
   * The wizard's answers without secrets: the admin's argon2 hash stays (the password itself was
   * never kept), the database address loses its password, which is read back from the `.env`.
   */
  answers: WizardData
  /** which answers had a password, left out of the journal */
  omitted: { database: boolean, cache: boolean }
}

export function journalPath (dataDir: string): string {
  return path.join(dataDir, JOURNAL_FILE)
}

export async function readJournal (dataDir: string): Promise<Journal | null> {
  try {
    const parsed = JSON.parse(await readFile(journalPath(dataDir), 'utf8')) as Journal
    return parsed?.version === 1 && parsed.answers && parsed.stages && parsed.omitted ? parsed : null
  } catch {
    return null // absent, or unreadable: nothing to resume
  }
}

/** Atomic (temp file + rename) and private (0600): a crash leaves the previous journal or the new one. */
async function writeJournal (dataDir: string, journal: Journal): Promise<void> {
  const file = journalPath(dataDir)
  const tmp = `${file}.${process.pid}.tmp`
  journal.updatedAt = new Date().toISOString()
  await writeFile(tmp, JSON.stringify(journal, null, 2), { mode: 0o600 })
  await rename(tmp, file)
}

export async function removeJournal (dataDir: string): Promise<void> {
  await rm(journalPath(dataDir), { force: true })
}

/** The password part of a URL, if any (SQLite file URLs have none). */
function urlPassword (url: string): string {
  try { return decodeURIComponent(new URL(url).password) } catch { return '' }
}

function withoutPassword (url: string): string {
  try {
    const u = new URL(url)
    if (!u.password) return url
    u.password = ''
    return u.toString()
  } catch {
    return url
  }
}

type Loose = Record<string, unknown>
const SECRET_KEY = /password|secret/i

/** The answers as journaled: every password-like key dropped, passwords cut out of addresses. */
export function journalAnswers (data: WizardData): { answers: WizardData, omitted: { database: boolean, cache: boolean } } {
  const answers = structuredClone({ ...data, drafts: {} }) as WizardData & Loose
  const omitted = { database: false, cache: false }
  for (const key of Object.keys(answers)) if (SECRET_KEY.test(key)) delete answers[key]
  for (const part of ['database', 'cache'] as const) {
    const answer = answers[part] as Loose | undefined
    if (!answer) continue
    for (const [key, value] of Object.entries(answer)) {
      if (SECRET_KEY.test(key)) {
        if (value) omitted[part] = true
        delete answer[key]
      } else if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value) && urlPassword(value)) {
        answer[key] = withoutPassword(value)
        omitted[part] = true
      }
    }
  }
  return { answers, omitted }
}

/**
 * The wizard's answers rebuilt from a journal after a restart. Passwords come back from the `.env`
 * the interrupted install wrote, when that file names the same database / Redis; otherwise that
 * step is marked to be answered again.
 */
export async function answersFromJournal (journal: Journal, envFile: string): Promise<WizardData> {
  const data = structuredClone(journal.answers) as WizardData & Loose
  data.drafts = {}
  const env = (journal.omitted.database || journal.omitted.cache) ? await readEnvFile(envFile).catch(() => null) : null
  const undo = (part: 'database' | 'cache') => {
    delete data[part]
    data.done = data.done.filter(id => id !== part)
  }
  if (journal.omitted.database && data.database) {
    const url = env?.DATABASE_URL
    if (url && withoutPassword(url) === data.database.url) {
      const password = urlPassword(url)
      ;(data.database as unknown as Loose).url = url
      if (data.database.provider !== 'sqlite') (data.database as unknown as Loose).password = password
      data.databasePassword = password
    } else undo('database')
  }
  if (journal.omitted.cache && data.cache) {
    const url = env?.REDIS_URL
    const password = url ? urlPassword(url) : ''
    if (password) (data.cache as Loose).redisPassword = password
    else undo('cache')
  }
  return data
}

/** Everything the wizard needs to install is there (nothing to re-ask). */
export function answersComplete (data: WizardData): boolean {
  return Boolean(data.database && data.cache && data.admin && data.restore)
}

// ---------------------------------------------------------------------------------------------
// Test hook. AMORCE_TEST_PAUSE_AT=<stage> makes the install stop before that stage (after the
// previous one is journaled), print `AMORCE_TEST_PAUSED <stage>` and wait forever, so a test can
// SIGKILL the process at an exact boundary. `migrate:applying` and `migrate:applied` kill the
// process itself (SIGKILL) inside the migration run, where the runner's callback cannot wait: as
// the first migration is about to be applied, and right after it was committed.
// Inert unless the variable is set; nothing in production sets it.

async function testPause (point: string): Promise<void> {
  if (process.env.AMORCE_TEST_PAUSE_AT !== point) return
  process.stdout.write(`AMORCE_TEST_PAUSED ${point}\n`)
  await new Promise(() => {})
}

function testKill (point: string): void {
  if (process.env.AMORCE_TEST_PAUSE_AT !== point) return
  process.stdout.write(`AMORCE_TEST_PAUSED ${point}\n`)
  process.kill(process.pid, 'SIGKILL')
}

// ---------------------------------------------------------------------------------------------

/** Replaces secret values in a message meant for the page (driver errors may quote them). */
function scrub (text: string, secrets: string[]): string {
  let out = text
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[…]')
  return out
}

interface StageContext {
  dataDir: string
  secrets: string[]
  /** false when DATA_DIR refused the journal: the install goes on, without crash recovery */
  journalOn: boolean
}

async function stage (job: FinalizeJob, id: StageId, journal: Journal, ctx: StageContext, fn: () => Promise<FieldError | void>): Promise<void> {
  await testPause(id)
  job.record({ stage: id, status: 'running' })
  try {
    const message = await fn()
    journal.stages[id] = new Date().toISOString()
    if (ctx.journalOn) await writeJournal(ctx.dataDir, journal)
    job.record({ stage: id, status: 'done', message: message ?? undefined })
  } catch (err) {
    const detail: FieldError = err instanceof StageFailure
      ? err.detail
      : { key: `setup.finalize.errors.${id}`, params: { detail: scrub((err as Error).message ?? String(err), ctx.secrets) } }
    job.record({ stage: id, status: 'failed', message: detail })
    journal.failed = { stage: id, error: detail }
    if (ctx.journalOn) await writeJournal(ctx.dataDir, journal).catch(() => {})
    throw err instanceof StageFailure ? err : new StageFailure(detail, { cause: err })
  }
}

/** The database went away under us (restart, crash, dropped connection), as opposed to refusing the work. */
function connectionLost (err: unknown): boolean {
  const e = err as { code?: string, message?: string }
  return /^(57P0[123]|08\w{3}|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT)$/.test(e?.code ?? '') ||
    /Connection terminated|terminating connection|server closed the connection/i.test(e?.message ?? '')
}

/** Errors that mean "this location cannot be written", not "this content is wrong". */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOTDIR', 'ENOENT', 'ENOSPC', 'EDQUOT', 'EBUSY'])

/** Writes the `.env`; where it cannot be written, asks the administrator to place it and waits. */
async function writeOrPlaceEnv (job: FinalizeJob, stage: StageId, file: string, entries: Record<string, string>): Promise<'written' | 'placed'> {
  try {
    await writeEnvFile(file, entries)
    return 'written'
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (!code || !UNWRITABLE.has(code)) throw err
    // Already placed (e.g. resuming after a restart): nothing to ask.
    const placement = { file, entries, content: serializeEnv(entries) }
    if (await checkPlacedEnv(placement) === null) return 'placed'
    await job.waitForPlacement(stage, placement)
    return 'placed'
  }
}

async function runFinalize (job: FinalizeJob, deps: FinalizeDeps): Promise<void> {
  const { app, data } = deps
  const { config, setup } = app.amorce
  const log = app.log.child({ component: 'finalize' })
  const { database, cache, admin } = data
  if (!database || !cache || !admin || !setup) throw new StageFailure({ key: 'setup.finalize.errors.incomplete', params: { step: '' } })
  const dataDir = config.dataDir
  const secrets = [setup.sessionSecret, setup.token, urlPassword(database.url), data.databasePassword ?? '', cache.redisPassword ?? ''].filter(Boolean)
  const ctx: StageContext = { dataDir, secrets, journalOn: true }

  const journal: Journal = {
    version: 1,
    startedAt: new Date().toISOString(),
    updatedAt: '',
    stages: {},
    ...journalAnswers(data)
  }
  try {
    await writeJournal(dataDir, journal)
  } catch (err) {
    // DATA_DIR not writable: the install can still run, it just cannot be resumed after a crash.
    log.warn({ code: (err as NodeJS.ErrnoException).code }, 'the install journal cannot be written')
    ctx.journalOn = false
  }

  const values: ConfigValues = {
    databaseProvider: database.provider,
    databaseUrl: database.url,
    cacheBackend: cache.backend,
    cacheDir: cache.dir,
    sessionSecret: setup.sessionSecret,
    appLocale: data.language ?? 'en'
  }
  // Redis: the URL with its password (kept apart in the answers), for the .env only.
  const redisUrl = cacheRedisUrl(cache)
  if (redisUrl) values.redisUrl = redisUrl

  await stage(job, 'env', journal, ctx, async () => {
    // Keys the administrator added to an existing .env (PORT, their own) are kept.
    // Keys the real environment sets (a platform's DATABASE_URL…) stay out of the file.
    const how = await writeOrPlaceEnv(job, 'env', config.envFile, withoutEnvironmentKeys(envFileEntries(values, await readEnvFile(config.envFile).catch(() => null) ?? {}), config))
    log.info({ envFile: config.envFile, how }, 'configuration written')
    return { key: how === 'written' ? 'setup.finalize.stages.envWritten' : 'setup.finalize.stages.envPlaced', params: { file: config.envFile } }
  })

  await stage(job, 'migrate', journal, ctx, async () => {
    try {
      const result = await migrate({
        provider: database.provider,
        url: database.url,
        migrationsDir: referenceSchema.migrationsDir(database.provider),
        // The user confirmed installing beside another application's tables (database step).
        allowOtherTables: database.provider !== 'sqlite' && database.allowOtherTables,
        // With a backup: only up to its level; the restore stage loads it, then applies the rest.
        upTo: migrationLimit(data),
        onProgress: p => {
          if (p.status === 'applying' && p.index === 0) testKill('migrate:applying')
          if (p.status === 'applied') {
            testKill('migrate:applied')
            job.record({ stage: 'migrate', status: 'progress', message: { key: 'setup.finalize.stages.migrationApplied', params: { name: p.name, index: p.index + 1, total: p.total } } })
          }
        }
      })
      log.info({ applied: result.applied.length, alreadyApplied: result.alreadyApplied.length }, 'migrations done')
      return { key: 'setup.finalize.stages.migrated', params: { count: result.applied.length, applied: result.applied.length, already: result.alreadyApplied.length } }
    } catch (err) {
      if (connectionLost(err)) throw new StageFailure({ key: 'setup.finalize.errors.connectionLost', params: { detail: scrub((err as Error).message, secrets) } }, { cause: err })
      if (err instanceof MigrationError) {
        throw new StageFailure({ key: `setup.finalize.errors.migration.${err.code}`, params: { migration: err.migration ?? '', detail: scrub(err.message, secrets) } }, { cause: err })
      }
      throw err
    }
  })

  await stage(job, 'restore', journal, ctx, async () => {
    try {
      return await restoreStage(data, message => job.record({ stage: 'restore', status: 'progress', message }), { schema: referenceSchema, admin: referenceAdmins })
    } catch (err) {
      log.warn({ err: { code: (err as { code?: string }).code, message: scrub((err as Error).message ?? String(err), secrets) } }, 'restore failed')
      throw new StageFailure(restoreFailure(err), { cause: err })
    }
  })

  await stage(job, 'admin', journal, ctx, async () => {
    if (admin.keepRestored) return recordInstallWithRestoredAdmins(data, { provider: database.provider, cache: cache.backend }, { schema: referenceSchema, admin: referenceAdmins })
    const outcome = await createWizardAdmin(database.provider, database.url, admin, values.appLocale ?? 'en', { provider: database.provider, cache: cache.backend })
    if (!outcome.created) {
      log.warn({ kept: outcome.username }, 'an administrator was already created by an earlier install: kept')
      return { key: 'setup.finalize.stages.adminKept', params: { username: outcome.username } }
    }
    return { key: 'setup.finalize.stages.adminCreated', params: { username: admin.username } }
  })

  // The lock comes last: until it is written, a restart reopens the wizard.
  await stage(job, 'lock', journal, ctx, async () => {
    const installedAt = new Date().toISOString()
    // The lock is kept in the database too: where the database comes from the environment, a disk
    // that does not survive a deploy (and the .env on it) cannot reopen the wizard (see app.ts).
    const db = await createPrismaClient(database.provider, database.url)
    try {
      await db.setting.upsert({ where: { key: INSTALL_LOCK_SETTING }, create: { key: INSTALL_LOCK_SETTING, value: installedAt }, update: { value: installedAt } })
    } finally {
      await db.$disconnect()
    }
    const entries = withoutEnvironmentKeys(envFileEntries({ ...values, installedAt }, await readEnvFile(config.envFile).catch(() => null) ?? {}), config)
    await writeOrPlaceEnv(job, 'lock', config.envFile, entries)
    return { key: 'setup.finalize.stages.locked' }
  })

  await stage(job, 'switch', journal, ctx, async () => {
    app.amorce.config = await deps.reloadConfig()
    await deps.switchToNormal()
    return { key: 'setup.finalize.stages.switched' }
  })
  // Installed: the journal, the token and an uploaded backup have done their work.
  await removeRestoredUpload(data, dataDir).catch(() => {})
  await removeJournal(dataDir)
  if (setup.tokenFile) await rm(setup.tokenFile, { force: true })
}

/** The row that says which administrator the wizard created; its primary key is the guard. */
export const ADMIN_CLAIM_KEY = 'wizard:admin'

/** The install lock's copy in the database (the .env's APP_INSTALLED_AT is the other). */
export const INSTALL_LOCK_SETTING = 'install:completedAt'

/**
 * Creates the wizard's administrator at most once per database. The claim row and the account are
 * written in one transaction; the claim's primary key makes a concurrent second install (another
 * tab, another process, another username) fail and roll back, after which it sees the first one's
 * claim and keeps that administrator. Resuming with the same username updates the same row.
 */
export async function createWizardAdmin (
  provider: NonNullable<WizardData['database']>['provider'],
  url: string,
  admin: NonNullable<WizardData['admin']>,
  locale: string,
  detail: Record<string, string>
): Promise<{ created: boolean, username: string }> {
  const db = await createPrismaClient(provider, url)
  // One short batch, claim first: the first statement is the write that takes the lock, so racing
  // installs queue (or fail on the key) instead of deadlocking between a read and a write.
  const write = (claim: boolean) => {
    const upsert = db.adminUser.upsert({
      where: { username: admin.username },
      create: { username: admin.username, email: admin.email, passwordHash: admin.passwordHash, locale },
      update: { email: admin.email, passwordHash: admin.passwordHash, locale }
    })
    const audit = () => db.auditLog.create({ data: { event: 'install.completed', detail: JSON.stringify(detail) } })
    // Without the claim, this resumes an install whose claim, account and audit row were written together:
    // the account is updated, the install is not recorded twice.
    return claim
      ? db.$transaction([db.setting.create({ data: { key: ADMIN_CLAIM_KEY, value: admin.username } }), upsert, audit()])
      : db.$transaction([upsert])
  }
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await write(true)
        return { created: true, username: admin.username }
      } catch (err) {
        // The claim exists (an earlier run, or a racing one that won): it decides.
        const claim = await db.setting.findUnique({ where: { key: ADMIN_CLAIM_KEY } }).catch(() => null)
        if (claim?.value === admin.username) {
          await write(false) // resuming the same install: the same account, updated
          return { created: true, username: admin.username }
        }
        if (claim) return { created: false, username: claim.value }
        // No claim: the write failed for another reason (busy, connection); a few tries, then the error.
        if (attempt >= 5) throw err
        await new Promise(resolve => setTimeout(resolve, 100 * attempt))
      }
    }
  } finally {
    await db.$disconnect()
  }
}
