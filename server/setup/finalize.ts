// The install, in a fixed order (after Gitea): write .env → migrate → restore → admin → lock, then
// switch the running process to normal mode. Each completed stage is recorded in a journal file;
// only one install runs at a time and later requests follow the running one.
import { EventEmitter } from 'node:events'
import { rm, writeFile, rename } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { envFileEntries, loadConfig } from '../config/config.ts'
import { readEnvFile, writeEnvFile } from '../config/envfile.ts'
import { createPrismaClient } from '../db/client.ts'
import { migrate, MigrationError } from '../db/migrate.ts'
import type { FieldError, WizardData } from './wizard.ts'

export const STAGES = ['env', 'migrate', 'restore', 'admin', 'lock', 'switch'] as const
export type StageId = typeof STAGES[number]

export interface StageEvent {
  stage: StageId
  status: 'running' | 'done' | 'skipped' | 'failed' | 'progress'
  /** i18n key + params describing the event */
  message?: FieldError
}

export const JOURNAL_FILE = 'install-journal.json'

export class FinalizeJob extends EventEmitter {
  readonly events: StageEvent[] = []
  state: 'running' | 'succeeded' | 'failed' = 'running'
  error?: FieldError
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

  record (event: StageEvent): void {
    this.events.push(event)
    this.emit('event', event)
  }
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

/** Starts the install, or returns the one already running. */
export function startFinalize (deps: FinalizeDeps): FinalizeJob {
  if (current?.state === 'running') return current
  current = new FinalizeJob(job => runFinalize(job, deps))
  return current
}

export function currentFinalize (): FinalizeJob | undefined {
  return current
}

async function stage (job: FinalizeJob, id: StageId, journal: Journal, fn: () => Promise<FieldError | void>): Promise<void> {
  job.record({ stage: id, status: 'running' })
  try {
    const message = await fn()
    await journal.complete(id)
    job.record({ stage: id, status: 'done', message: message ?? undefined })
  } catch (err) {
    const detail = err instanceof StageFailure ? err.detail : { key: `setup.finalize.errors.${id}`, params: { detail: (err as Error).message } }
    job.record({ stage: id, status: 'failed', message: detail })
    throw err instanceof StageFailure ? err : new StageFailure(detail, { cause: err })
  }
}

class Journal {
  private readonly record: { startedAt: string, stages: Partial<Record<StageId, string>> } = { startedAt: new Date().toISOString(), stages: {} }
  constructor (private readonly file: string) {}
  async complete (id: StageId): Promise<void> {
    this.record.stages[id] = new Date().toISOString()
    const tmp = `${this.file}.tmp`
    await writeFile(tmp, JSON.stringify(this.record, null, 2), { mode: 0o600 })
    await rename(tmp, this.file)
  }

  async remove (): Promise<void> { await rm(this.file, { force: true }) }
}

async function runFinalize (job: FinalizeJob, deps: FinalizeDeps): Promise<void> {
  const { app, data } = deps
  const { config, setup } = app.amorce
  const log = app.log.child({ component: 'finalize' })
  const { database, cache, admin } = data
  if (!database || !cache || !admin || !setup) throw new StageFailure({ key: 'setup.finalize.errors.incomplete', params: { step: '' } })
  const journal = new Journal(path.join(config.dataDir, JOURNAL_FILE))

  const values = {
    databaseProvider: database.provider,
    databaseUrl: database.url,
    cacheBackend: cache.backend,
    cacheDir: cache.dir,
    sessionSecret: setup.sessionSecret,
    appLocale: data.language ?? 'en'
  }

  await stage(job, 'env', journal, async () => {
    // Keys the administrator added to an existing .env (PORT, their own) are kept.
    await writeEnvFile(config.envFile, envFileEntries(values, await readEnvFile(config.envFile) ?? {}))
    log.info({ envFile: config.envFile }, 'configuration written')
    return { key: 'setup.finalize.stages.envWritten', params: { file: config.envFile } }
  })

  await stage(job, 'migrate', journal, async () => {
    try {
      const result = await migrate({
        provider: database.provider,
        url: database.url,
        onProgress: p => {
          if (p.status === 'applied') job.record({ stage: 'migrate', status: 'progress', message: { key: 'setup.finalize.stages.migrationApplied', params: { name: p.name, index: p.index + 1, total: p.total } } })
        }
      })
      log.info({ applied: result.applied.length, alreadyApplied: result.alreadyApplied.length }, 'migrations done')
      return { key: 'setup.finalize.stages.migrated', params: { applied: result.applied.length, already: result.alreadyApplied.length } }
    } catch (err) {
      if (err instanceof MigrationError) throw new StageFailure({ key: `setup.finalize.errors.migration.${err.code}`, params: { migration: err.migration ?? '', detail: err.message } }, { cause: err })
      throw err
    }
  })

  await stage(job, 'restore', journal, async () => ({ key: 'setup.finalize.stages.restoreSkipped' }))

  await stage(job, 'admin', journal, async () => {
    const db = await createPrismaClient(database.provider, database.url)
    try {
      // Keyed on the username: resuming after a crash updates the row instead of adding a second.
      await db.$transaction(async tx => {
        await tx.adminUser.upsert({
          where: { username: admin.username },
          create: { username: admin.username, email: admin.email, passwordHash: admin.passwordHash, locale: values.appLocale },
          update: { email: admin.email, passwordHash: admin.passwordHash, locale: values.appLocale }
        })
        await tx.auditLog.create({ data: { event: 'install.completed', detail: JSON.stringify({ provider: database.provider, cache: cache.backend }) } })
      })
    } finally {
      await db.$disconnect()
    }
    return { key: 'setup.finalize.stages.adminCreated', params: { username: admin.username } }
  })

  // The lock comes last: until it is written, a restart reopens the wizard.
  await stage(job, 'lock', journal, async () => {
    await writeEnvFile(config.envFile, envFileEntries({ ...values, installedAt: new Date().toISOString() }, await readEnvFile(config.envFile) ?? {}))
    return { key: 'setup.finalize.stages.locked' }
  })

  await stage(job, 'switch', journal, async () => {
    app.amorce.config = await deps.reloadConfig()
    await deps.switchToNormal()
    return { key: 'setup.finalize.stages.switched' }
  })
  // Installed: the journal and the token have done their work.
  await journal.remove()
  if (setup.tokenFile) await rm(setup.tokenFile, { force: true })
}
