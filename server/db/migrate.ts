// Amorce's migration runner: applies a host's prisma/<provider>/migrations like `prisma migrate deploy`, keeping
// `_prisma_migrations` exactly as Prisma keeps it. Engine-neutral: each engine's driver (server/db/engines/*) opens
// the connection, and the runner does the bookkeeping. Prisma's native schema engine cannot be downloaded
// everywhere Amorce is installed, so the install wizard and the server run migrations themselves. Because the
// bookkeeping table has Prisma's DDL and rows (uuid id, sha256 checksum, timestamps, logs, applied_steps_count),
// the real `prisma migrate status/deploy` accepts the database later.
import { randomUUID } from 'node:crypto'
import { engineOf, isProvider, PROVIDERS, type DatabaseProvider } from './engines/index.ts'
import {
  checksumMatches, DEFAULT_LOCK_TIMEOUT_MS, listLocalMigrations, MigrationError, MIGRATIONS_TABLE,
  type LocalMigration, type MigrationDriver, type MigrationProgress, type MigrationRecord, type MigrationStatus
} from './migrations.ts'

export {
  checksumMatches, checksumOf, createdTables, DEFAULT_LOCK_TIMEOUT_MS, listLocalMigrations, MigrationError, MIGRATIONS_TABLE,
  type LocalMigration, type MigrationErrorCode, type MigrationProgress, type MigrationRecord, type MigrationStatus
} from './migrations.ts'
// The SQLite engine owns its URL; re-exported for the callers that read the file of a `file:` URL.
export { sqliteFilePath } from './engines/sqlite.ts'

export type Provider = DatabaseProvider
export { PROVIDERS }

/** `_prisma_migrations`' DDL per engine, as each engine's module holds it. */
export const MIGRATIONS_TABLE_DDL = Object.fromEntries(PROVIDERS.map(p => [p, engineOf(p).migration.tableDdl])) as Readonly<Record<Provider, string>>

async function openDriver (provider: Provider, url: string, lockTimeoutMs: number): Promise<MigrationDriver> {
  assertProvider(provider)
  return engineOf(provider).migration.open(url, lockTimeoutMs)
}

function assertProvider (provider: string): asserts provider is Provider {
  if (!isProvider(provider)) {
    throw new MigrationError('unknownProvider', `Unknown database provider: ${JSON.stringify(provider)}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping, shared by every driver

async function hasMigrationsTable (driver: MigrationDriver): Promise<boolean> {
  return (await driver.tableNames()).includes(MIGRATIONS_TABLE)
}

/**
 * Creates `_prisma_migrations` on first use, refusing like Prisma (P3005) when the database already holds other
 * tables: those would not have been created by these migrations.
 */
async function initializeMigrationsTable (driver: MigrationDriver, allowOtherTables = false): Promise<void> {
  await driver.prepare()
  await begin(driver)
  try {
    const tables = await driver.tableNames()
    if (!tables.includes(MIGRATIONS_TABLE)) {
      if (tables.length > 0 && !allowOtherTables) {
        throw new MigrationError('schemaNotEmpty', `The database is not empty and has no ${MIGRATIONS_TABLE} table (tables: ${tables.join(', ')})`)
      }
      await driver.executeScript(engineOf(driver.provider).migration.tableDdl)
    }
    await driver.commit()
  } catch (error) {
    await driver.rollback()
    throw error
  }
}

async function readMigrationRecords (driver: MigrationDriver, name?: string): Promise<MigrationRecord[]> {
  const where = name === undefined ? '' : ` WHERE migration_name = ${driver.param(1)}`
  const rows = await driver.query(
    'SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count' +
    ` FROM ${driver.migrationsTable}${where} ORDER BY started_at ASC`,
    name === undefined ? [] : [name]
  )
  return rows.map(row => ({
    id: String(row.id),
    checksum: String(row.checksum),
    migrationName: String(row.migration_name),
    startedAt: driver.readTimestamp(row.started_at),
    finishedAt: driver.readTimestamp(row.finished_at),
    rolledBackAt: driver.readTimestamp(row.rolled_back_at),
    logs: row.logs === null || row.logs === undefined ? null : String(row.logs),
    appliedStepsCount: Number(row.applied_steps_count)
  }))
}

/** Same semantics as Prisma: rolled-back rows are only an audit trail; a failed row is neither applied nor pending. */
export function compareHistory (local: LocalMigration[], records: MigrationRecord[]): MigrationStatus {
  const live = records.filter(record => record.rolledBackAt === null)
  const finished = live.filter(record => record.finishedAt !== null)
  const localByName = new Map(local.map(migration => [migration.name, migration]))
  const seen = new Set(live.map(record => record.migrationName))
  const unique = (names: string[]) => [...new Set(names)]
  return {
    applied: unique(finished.map(record => record.migrationName)),
    pending: local.filter(migration => !seen.has(migration.name)).map(migration => migration.name),
    failed: unique(live.filter(record => record.finishedAt === null).map(record => record.migrationName)),
    modified: unique(finished
      .filter(record => {
        const migration = localByName.get(record.migrationName)
        return migration !== undefined && !checksumMatches(migration.sql, record.checksum)
      })
      .map(record => record.migrationName)),
    missingLocally: unique(live.filter(record => !localByName.has(record.migrationName)).map(record => record.migrationName))
  }
}

function failedMigrationError (failed: string[]): MigrationError {
  return new MigrationError('failedMigration',
    `Migration ${failed.join(', ')} failed earlier and was not resolved; no migration will be applied until it is` +
    ' (fix the database, then mark it with `prisma migrate resolve --rolled-back|--applied`).',
    { migrations: failed })
}

/** The failure note Prisma would leave in `logs` (its P3018 layout). */
function failureLogs (driver: MigrationDriver, migration: LocalMigration, error: unknown): string {
  const code = driver.errorCode(error)
  return `Migration name: ${migration.name}\n\n` +
    (code === undefined ? '' : `Database error code: ${code}\n\n`) +
    `Database error:\n${error instanceof Error ? error.message : String(error)}\n`
}

async function insertRecord (driver: MigrationDriver, record: { id: string; migration: LocalMigration; startedAt: Date; finishedAt: Date | null; logs: string | null; steps: number }): Promise<void> {
  const p = (n: number) => driver.param(n)
  await driver.query(
    `INSERT INTO ${driver.migrationsTable} (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)` +
    ` VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, NULL, ${p(6)}, ${p(7)})`,
    [
      record.id,
      record.migration.checksum,
      record.finishedAt === null ? null : driver.timestamp(record.finishedAt),
      record.migration.name,
      record.logs,
      driver.timestamp(record.startedAt),
      record.steps
    ]
  )
}

/**
 * Applies one migration atomically: its script and its `_prisma_migrations` row commit together, so a crash leaves
 * it simply pending. A failing script is rolled back, then recorded as Prisma records it (finished_at NULL, logs,
 * applied_steps_count 0), which blocks further runs until someone resolves it.
 * Returns false when another runner applied it while we waited for the write lock.
 */
async function applyOne (driver: MigrationDriver, migration: LocalMigration): Promise<boolean> {
  if (!driver.transactionalDdl) return applyOneRecorded(driver, migration)
  const startedAt = new Date()
  await begin(driver)
  try {
    const existing = (await readMigrationRecords(driver, migration.name)).filter(record => record.rolledBackAt === null)
    if (existing.some(record => record.finishedAt !== null)) {
      await driver.rollback()
      return false
    }
    if (existing.length > 0) throw failedMigrationError([migration.name])
    await driver.executeScript(migration.sql)
    await insertRecord(driver, { id: randomUUID(), migration, startedAt, finishedAt: new Date(), logs: null, steps: 1 })
    await driver.commit()
    return true
  } catch (error) {
    await driver.rollback()
    if (error instanceof MigrationError) throw error
    let note = ''
    try {
      await insertRecord(driver, { id: randomUUID(), migration, startedAt, finishedAt: null, logs: failureLogs(driver, migration, error), steps: 0 })
    } catch (recordError) {
      note = ` (and recording the failure failed too: ${(recordError as Error).message})`
    }
    throw new MigrationError('sqlError', `Migration ${migration.name} failed: ${(error as Error).message}${note}`, { migration: migration.name, cause: error })
  }
}

/**
 * MySQL's way (Prisma's on every database): the row is written first (finished_at NULL), the script runs, and the
 * row is then marked finished, or given the error in `logs`. DDL commits as it goes, so a failure (or a crash)
 * may leave part of the migration applied: the row stays unfinished and blocks every further run, with a message
 * saying what to check, until someone resolves it. Only the runner holding GET_LOCK gets here.
 */
async function applyOneRecorded (driver: MigrationDriver, migration: LocalMigration): Promise<boolean> {
  const existing = (await readMigrationRecords(driver, migration.name)).filter(record => record.rolledBackAt === null)
  if (existing.some(record => record.finishedAt !== null)) return false
  if (existing.length > 0) throw failedMigrationError([migration.name])
  const id = randomUUID()
  await insertRecord(driver, { id, migration, startedAt: new Date(), finishedAt: null, logs: null, steps: 0 })
  const p = (n: number) => driver.param(n)
  try {
    await driver.executeScript(migration.sql)
  } catch (error) {
    let note = ''
    try {
      await driver.query(`UPDATE ${driver.migrationsTable} SET logs = ${p(1)} WHERE id = ${p(2)}`, [failureLogs(driver, migration, error), id])
    } catch (recordError) {
      note = ` (and recording the failure failed too: ${(recordError as Error).message})`
    }
    throw new MigrationError('sqlError',
      `Migration ${migration.name} failed: ${(error as Error).message}${note}. MySQL commits each schema change at once, ` +
      'so the statements before the failing one may be applied: check the database, then mark the migration with ' +
      '`prisma migrate resolve --rolled-back|--applied`.', { migration: migration.name, cause: error })
  }
  await driver.query(`UPDATE ${driver.migrationsTable} SET finished_at = ${p(1)}, applied_steps_count = 1 WHERE id = ${p(2)}`, [driver.timestamp(new Date()), id])
  return true
}

/** Starts a migration's transaction; on SQLite this is where a concurrent runner makes us wait. */
async function begin (driver: MigrationDriver): Promise<void> {
  try {
    await driver.begin()
  } catch (error) {
    if (driver.isLockTimeout(error)) throw lockTimeoutError(error)
    throw error
  }
}

function lockTimeoutError (error: unknown): MigrationError {
  return new MigrationError('lockTimeout', 'Timed out waiting for another migration run to finish', { cause: error })
}

async function withDriver<T> (provider: Provider, url: string, lockTimeoutMs: number, run: (driver: MigrationDriver) => Promise<T>): Promise<T> {
  const driver = await openDriver(provider, url, lockTimeoutMs)
  try {
    return await run(driver)
  } finally {
    await driver.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Public API

export interface MigrationTarget {
  provider: Provider
  /** Prisma-style URL: `file:/abs/app.db` (or `file:./rel.db`) for SQLite, `postgresql://…[?schema=…]`. */
  url: string
  /** The app's migrations for this provider: `schema.migrationsDir(provider)` of its AppSchema. */
  migrationsDir: string
}

/** Compares the database with the local migrations; reads only (no table is created). */
export async function migrationStatus (options: MigrationTarget): Promise<MigrationStatus> {
  assertProvider(options.provider)
  const local = await listLocalMigrations(options.provider, options)
  // Opening a missing SQLite file would create it: a status must not.
  if (!engineOf(options.provider).migration.exists(options.url)) return compareHistory(local, [])
  return withDriver(options.provider, options.url, DEFAULT_LOCK_TIMEOUT_MS, async driver => {
    const records = await hasMigrationsTable(driver) ? await readMigrationRecords(driver) : []
    return compareHistory(local, records)
  })
}

export interface MigrateOptions extends MigrationTarget {
  onProgress?: (progress: MigrationProgress) => void
  /** Apply only up to and including this migration (a backup restore replays the schema it was taken at). */
  upTo?: string
  lockTimeoutMs?: number
  /**
   * Install beside other tables in a database without `_prisma_migrations` (the wizard asked the user to confirm,
   * and checked that none of them has the name of one of ours). Without it such a database is refused (P3005).
   */
  allowOtherTables?: boolean
}

/**
 * Applies the pending migrations in lexical order, like `prisma migrate deploy`, and also refuses to run over an
 * edited applied migration (Prisma only warns in `migrate status`; an installer should not guess).
 */
export async function migrate (options: MigrateOptions): Promise<{ applied: string[]; alreadyApplied: string[] }> {
  assertProvider(options.provider)
  const local = await listLocalMigrations(options.provider, options)
  const targets = upToTargets(local, options.upTo)
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  return withDriver(options.provider, options.url, lockTimeoutMs, async driver => {
    try {
      await driver.lock(lockTimeoutMs)
    } catch (error) {
      if (driver.isLockTimeout(error)) throw lockTimeoutError(error)
      throw error
    }
    try {
      await initializeMigrationsTable(driver, options.allowOtherTables)
      return await applyPending(driver, targets, options.onProgress)
    } finally {
      await driver.unlock().catch(() => {})
    }
  })
}

function upToTargets (local: LocalMigration[], upTo: string | undefined): LocalMigration[] {
  if (upTo === undefined) return local
  const last = local.findIndex(migration => migration.name === upTo)
  if (last === -1) throw new MigrationError('unknownMigration', `No local migration is named ${upTo}`, { migration: upTo })
  return local.slice(0, last + 1)
}

async function applyPending (driver: MigrationDriver, targets: LocalMigration[], onProgress?: (progress: MigrationProgress) => void) {
  const status = compareHistory(targets, await readMigrationRecords(driver))
  if (status.failed.length > 0) throw failedMigrationError(status.failed)
  if (status.modified.length > 0) {
    throw new MigrationError('checksumMismatch',
      `Applied migration(s) changed since they were applied: ${status.modified.join(', ')}`, { migrations: status.modified })
  }
  const pending = new Set(status.pending)
  const toApply = targets.filter(migration => pending.has(migration.name))
  const alreadyApplied = targets.filter(migration => !pending.has(migration.name)).map(migration => migration.name)
  const applied: string[] = []
  for (const [index, migration] of toApply.entries()) {
    const progress = { name: migration.name, index, total: toApply.length }
    onProgress?.({ ...progress, status: 'applying' })
    if (await applyOne(driver, migration)) {
      applied.push(migration.name)
    } else {
      alreadyApplied.push(migration.name)
    }
    onProgress?.({ ...progress, status: 'applied' })
  }
  return { applied, alreadyApplied }
}
