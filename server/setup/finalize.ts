// The install: the stages the steps contribute, in the registry's order (after Gitea: write .env → migrate →
// restore → admin → lock, then switch the running process to normal mode; a host step's stage runs after
// admin, before the lock). Every stage is idempotent and recorded in a journal file as it completes, so a
// crash can be resumed after a restart; only one install runs at a time per app instance (the job hangs off
// app.amorce.wizard) and later requests (other tabs, other sessions) follow the running one.
import { EventEmitter } from 'node:events'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import type { AppConfig, ConfigValues } from '../config/config.ts'
import { readEnvFile, serializeEnv, writeEnvFile } from '../config/envfile.ts'
import { createClient } from '../db/client.ts'
import type { Registry } from './registry.ts'
import type { FieldError, StageContext as StepStageContext, WizardData } from './step.ts'
import { cacheRedisUrl } from './steps/cache.ts'
import { urlPassword, withoutUrlPassword } from './steps/database.ts'
import { testPause } from './test-hooks.ts'
import { isLanguage, translator } from '../i18n.ts'
import { wizardState } from './state.ts'
import { journalPath, removeJournal } from './lock.ts'

export { ADMIN_CLAIM_KEY, createWizardAdmin } from './steps/admin.ts'
export { INSTALL_LOCK_SETTING, JOURNAL_FILE, journalPath, removeJournal } from './lock.ts'

export type StageId = string

export interface StageEvent {
  stage: StageId
  status: 'running' | 'done' | 'skipped' | 'failed' | 'progress' | 'waiting'
  /** i18n key + params describing the event */
  message?: FieldError
}

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
  reloadConfig: () => Promise<AppConfig>
  /** opens normal mode; called last */
  switchToNormal: () => Promise<void>
}

/** Starts the install on this app instance, or returns the one already running there (whoever asked for it). */
export function startFinalize (deps: FinalizeDeps): FinalizeJob {
  const wizard = wizardState(deps.app)
  if (wizard.job?.active) return wizard.job
  wizard.job = new FinalizeJob(job => runFinalize(job, deps, wizard.registry))
  return wizard.job
}

/** This app instance's running (or last) install. */
export function currentFinalize (app: FastifyInstance): FinalizeJob | undefined {
  return app.amorce.wizard?.job
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
  /** which steps' answers had a secret, left out of the journal (by step id) */
  omitted: Record<string, boolean>
}

/** The answers of a journal written before answers were kept by step id (0.2.0): the same data, regrouped. */
function upgradeJournalAnswers (answers: Record<string, unknown>): WizardData {
  if (answers.answers && typeof answers.answers === 'object') return answers as unknown as WizardData
  const { done, drafts: _drafts, fromEnvironment, ...rest } = answers
  return { answers: rest as WizardData['answers'], kept: {}, done: (done as string[]) ?? [], drafts: {}, ...(fromEnvironment ? { fromEnvironment: fromEnvironment as string[] } : {}) }
}

export async function readJournal (dataDir: string): Promise<Journal | null> {
  try {
    const parsed = JSON.parse(await readFile(journalPath(dataDir), 'utf8')) as Journal
    if (!(parsed?.version === 1 && parsed.answers && parsed.stages && parsed.omitted)) return null
    parsed.answers = upgradeJournalAnswers(parsed.answers as unknown as Record<string, unknown>)
    return parsed
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

type Loose = Record<string, unknown>
const isUrl = (value: unknown): value is string => typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)

/** A step's secret fields, as its answer may hold them (the database password, the Redis password). */
function secretFields (registry: Registry, id: string): string[] {
  const step = registry.find(id)
  return Object.entries(step?.fields ?? {}).filter(([, f]) => f.secret).map(([name]) => name)
}

/**
 * The answers as journaled: what a step keeps aside (`kept`) and drafts dropped, each answer's secret fields
 * dropped and passwords cut out of addresses; `omitted` says which steps lost something.
 */
export function journalAnswers (registry: Registry, data: WizardData): { answers: WizardData, omitted: Record<string, boolean> } {
  const answers: WizardData = structuredClone({ ...data, kept: {}, drafts: {} })
  const omitted: Record<string, boolean> = {}
  for (const [id, answer] of Object.entries(answers.answers)) {
    if (!answer || typeof answer !== 'object') continue
    const secret = secretFields(registry, id)
    for (const [key, value] of Object.entries(answer as Loose)) {
      if (secret.includes(key)) {
        if (value) omitted[id] = true
        delete (answer as Loose)[key]
      } else if (isUrl(value) && urlPassword(value)) {
        ;(answer as Loose)[key] = withoutUrlPassword(value)
        omitted[id] = true
      }
    }
  }
  return { answers, omitted }
}

/**
 * The wizard's answers rebuilt from a journal after a restart. What was left out comes back from the `.env`
 * the interrupted install wrote, through each step's `resume` (when it names the same database / Redis);
 * otherwise that step is marked to be answered again.
 */
export async function answersFromJournal (registry: Registry, journal: Journal, envFile: string): Promise<WizardData> {
  const data = structuredClone(journal.answers)
  data.drafts = {}
  data.kept = {}
  const ids = Object.keys(journal.omitted).filter(id => journal.omitted[id] && data.answers[id] !== undefined)
  const env = ids.length > 0 ? await readEnvFile(envFile).catch(() => null) : null
  for (const id of ids) {
    if (registry.find(id)?.resume?.(data, env)) continue
    delete data.answers[id]
    data.done = data.done.filter(s => s !== id)
  }
  return data
}

/** Everything the wizard needs to install is there (nothing to re-ask). */
export function answersComplete (registry: Registry, data: WizardData): boolean {
  return registry.steps.filter(s => !s.final).every(s => data.done.includes(s.id))
}

// ---------------------------------------------------------------------------------------------

/** Replaces secret values in a message meant for the page (driver errors may quote them). */
function scrub (text: string, secrets: string[]): string {
  let out = text
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[…]')
  return out
}

/** Every secret the answers hold: secret fields, passwords inside addresses, what the steps keep aside. */
export function secretsOf (registry: Registry, data: WizardData): string[] {
  const found: string[] = []
  for (const [id, answer] of Object.entries(data.answers)) {
    if (!answer || typeof answer !== 'object') continue
    const secret = secretFields(registry, id)
    for (const [key, value] of Object.entries(answer as Loose)) {
      if (typeof value !== 'string') continue
      if (secret.includes(key)) found.push(value)
      else if (isUrl(value)) found.push(urlPassword(value))
    }
  }
  for (const kept of Object.values(data.kept)) found.push(...Object.values(kept))
  return found.filter(Boolean)
}

/** The values the `.env` is written from (what StageContext.values holds); a dry run's plan reads the same. */
export function installValues (data: WizardData, setup: { sessionSecret: string }): ConfigValues {
  const { database, cache } = data.answers
  const values: ConfigValues = {
    databaseProvider: database?.provider,
    databaseUrl: database?.url,
    cacheBackend: cache?.backend,
    cacheDir: cache?.dir,
    sessionSecret: setup.sessionSecret,
    appLocale: data.answers.language ?? 'en'
  }
  // Redis: the URL with its password (kept apart in the answers), for the .env only.
  const redisUrl = cacheRedisUrl(cache)
  if (redisUrl) values.redisUrl = redisUrl
  return values
}

interface RunContext {
  dataDir: string
  secrets: string[]
  /** false when DATA_DIR refused the journal: the install goes on, without crash recovery */
  journalOn: boolean
}

async function stage (job: FinalizeJob, id: StageId, errorKey: string, journal: Journal, ctx: RunContext, fn: () => Promise<FieldError | void>): Promise<void> {
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
      : { key: errorKey, params: { detail: scrub((err as Error).message ?? String(err), ctx.secrets) } }
    job.record({ stage: id, status: 'failed', message: detail })
    journal.failed = { stage: id, error: detail }
    if (ctx.journalOn) await writeJournal(ctx.dataDir, journal).catch(() => {})
    throw err instanceof StageFailure ? err : new StageFailure(detail, { cause: err })
  }
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

async function runFinalize (job: FinalizeJob, deps: FinalizeDeps, registry: Registry): Promise<void> {
  const { app, data } = deps
  const { config, setup, definition } = app.amorce
  const log = app.log.child({ component: 'finalize' })
  const { database, cache } = data.answers
  if (!database || !cache || !answersComplete(registry, data) || !setup) throw new StageFailure({ key: 'setup.finalize.errors.incomplete', params: { step: '' } })
  const dataDir = config.dataDir
  const secrets = [setup.sessionSecret, setup.token, ...secretsOf(registry, data)]
  const run: RunContext = { dataDir, secrets, journalOn: true }

  const journal: Journal = {
    version: 1,
    startedAt: new Date().toISOString(),
    updatedAt: '',
    stages: {},
    ...journalAnswers(registry, data)
  }
  try {
    await writeJournal(dataDir, journal)
  } catch (err) {
    // DATA_DIR not writable: the install can still run, it just cannot be resumed after a crash.
    log.warn({ code: (err as NodeJS.ErrnoException).code }, 'the install journal cannot be written')
    run.journalOn = false
  }

  const values = installValues(data, setup)

  // One client for the whole install, opened by the first stage that asks: each Prisma client loads its query
  // compiler and plans its queries anew, which the stages paid one after the other.
  let client: Promise<{ $disconnect(): Promise<void> }> | undefined
  try {
    for (const s of registry.stages) {
      const ctx: StepStageContext = {
        data,
        answers: data.answers,
        config: app.amorce.config,
        setup,
        definition,
        admin: definition.admin,
        t: translator(isLanguage(data.answers.language) ? data.answers.language : 'en'),
        log,
        values,
        db: async () => {
          client ??= createClient<{ $disconnect(): Promise<void> }>(definition.schema, database.provider, database.url)
          // A client that could not be made is asked for again by the next stage.
          return client.catch(err => { client = undefined; throw err })
        },
        progress: message => job.record({ stage: s.id, status: 'progress', message }),
        writeEnv: entries => writeOrPlaceEnv(job, s.id, config.envFile, entries),
        scrub: text => scrub(text, secrets),
        fail: (detail, cause) => { throw new StageFailure(detail, { cause }) },
        reloadConfig: deps.reloadConfig,
        switchToNormal: async () => {
          app.amorce.config = await deps.reloadConfig()
          await deps.switchToNormal()
        }
      }
      await stage(job, s.id, s.error ?? `setup.finalize.errors.${s.id}`, journal, run, () => s.run(ctx))
    }
  } finally {
    if (client) await client.then(c => c.$disconnect(), () => {}).catch(() => {})
  }
  // Installed: the journal, the token and what a step kept for the install (an uploaded backup) have done their work.
  for (const step of registry.steps) await step.installed?.({ data, config: app.amorce.config, log })
  await removeJournal(dataDir)
  if (setup.tokenFile) await rm(setup.tokenFile, { force: true })
}
