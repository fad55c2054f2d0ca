// The migrations contract every engine's driver shares: the local migrations folder (names, exact bytes, checksums,
// Prisma's lockfile), the `_prisma_migrations` row, the driver interface and the runner's errors. Engine-neutral:
// the engines (server/db/engines/*) implement MigrationDriver; the runner (migrate.ts) drives it.
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

export interface LocalMigration { name: string; sql: string; checksum: string }

/** One event per migration of this run: `index` is 0-based among the `total` migrations this run applies. */
export interface MigrationProgress { name: string; index: number; total: number; status: 'applying' | 'applied' }

export interface MigrationStatus {
  /** Finished migrations, in the order they were applied. */
  applied: string[]
  /** Local migrations the database has not seen (or saw fail and then rolled back), in lexical order. */
  pending: string[]
  /** Started but neither finished nor rolled back: these block every further run until resolved. */
  failed: string[]
  /** Applied migrations whose local file no longer has the checksum recorded when they were applied. */
  modified: string[]
  /** Applied (or failed) migrations with no local directory: the database is ahead of this code. */
  missingLocally: string[]
}

/** What the UI maps to localized text (the message itself is only for logs). */
export type MigrationErrorCode =
  | 'failedMigration' // an unresolved failed migration blocks the run (Prisma P3009)
  | 'checksumMismatch' // an applied migration was edited afterwards
  | 'unknownProvider'
  | 'unsupportedProvider' // a known provider the runner cannot drive (kept for older callers)
  | 'unknownMigration' // `upTo` names no local migration
  | 'invalidMigrations' // a migration directory without migration.sql, or a lockfile for another provider
  | 'invalidUrl'
  | 'connectionFailed'
  | 'schemaNotEmpty' // tables exist but no `_prisma_migrations`: not a database Prisma migrated (P3005)
  | 'lockTimeout' // another runner holds the migration lock
  | 'sqlError' // a migration's SQL failed; recorded in `_prisma_migrations` like Prisma (P3018)

export class MigrationError extends Error {
  override name = 'MigrationError'
  readonly code: MigrationErrorCode
  /** The migration concerned (the first one when there are several). */
  readonly migration?: string
  /** Every migration concerned (checksumMismatch and failedMigration can name several). */
  readonly migrations: string[]

  constructor (code: MigrationErrorCode, message: string, options: { migration?: string; migrations?: string[]; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.migration = options.migration ?? options.migrations?.[0]
    this.migrations = options.migrations ?? (options.migration === undefined ? [] : [options.migration])
  }
}

/** Prisma's bookkeeping table; each engine holds its DDL (`migration.tableDdl`). */
export const MIGRATIONS_TABLE = '_prisma_migrations'

/** Prisma gives up on the lock after 10 s; so do we by default. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000

// ---------------------------------------------------------------------------------------------
// Local migrations

const MIGRATION_FILE = 'migration.sql'
const LOCKFILE = 'migration_lock.toml'

export function checksumOf (bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * Whether a script still matches the checksum recorded when it was applied, with Prisma's leniency
 * (prisma-engines schema-engine/connectors/schema-connector/src/checksum.rs): git may have rewritten the line
 * endings, and early engines stored the hex digits of each byte without zero-padding.
 */
export function checksumMatches (sql: string, recorded: string): boolean {
  const variants = [sql, sql.replaceAll('\r\n', '\n'), sql.replaceAll('\n', '\r\n')]
  return variants.some(variant => {
    const digest = createHash('sha256').update(variant, 'utf8').digest()
    const rendered = recorded.length !== 0 && recorded.length !== 64
      ? [...digest].map(byte => byte.toString(16)).join('')
      : digest.toString('hex')
    return rendered === recorded
  })
}

function byName (a: string, b: string): number {
  // Plain code-unit order: locale-independent, and the same as Prisma's for its `<timestamp>_<name>` directories.
  return a < b ? -1 : a > b ? 1 : 0
}

async function assertLockfileProvider (dir: string, provider: string): Promise<void> {
  const content = await readFile(path.join(dir, LOCKFILE), 'utf8').catch(() => null)
  const locked = content?.match(/^\s*provider\s*=\s*"([^"]*)"/m)?.[1]
  if (locked !== undefined && locked !== provider) {
    throw new MigrationError('invalidMigrations', `${path.join(dir, LOCKFILE)} is for provider "${locked}", not "${provider}"`)
  }
}

/** The migrations shipped with this code, in lexical order; the checksum covers the file's exact bytes. */
/** The migrations in `dir` (a host's `prisma/<provider>/migrations`), in lexical order; the checksum covers the file's exact bytes. */
export async function listLocalMigrations (provider: string, options: { migrationsDir: string }): Promise<LocalMigration[]> {
  const dir = options.migrationsDir
  await assertLockfileProvider(dir, provider)
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    throw error
  })
  const names = entries.filter(entry => entry.isDirectory()).map(entry => entry.name).sort(byName)
  return Promise.all(names.map(async name => {
    const bytes = await readFile(path.join(dir, name, MIGRATION_FILE)).catch((error: unknown) => {
      throw new MigrationError('invalidMigrations', `Migration ${name} has no readable ${MIGRATION_FILE}`, { migration: name, cause: error })
    })
    return { name, sql: bytes.toString('utf8'), checksum: checksumOf(bytes) }
  }))
}

/**
 * The tables a migration history creates (`CREATE TABLE`, quoted or not, `@@map` names and implicit many-to-many
 * tables included): the names another application's tables must not take.
 */
export function createdTables (migrations: readonly LocalMigration[]): string[] {
  const names = new Set<string>()
  for (const migration of migrations) {
    for (const m of migration.sql.matchAll(/CREATE TABLE\s+(?:IF NOT EXISTS\s+)?(?:["`]?\w+["`]?\.)?["`]?(\w+)["`]?/gi)) names.add(m[1])
  }
  names.delete(MIGRATIONS_TABLE)
  return [...names]
}

// ---------------------------------------------------------------------------------------------
// The driver each engine provides (server/db/engines/<name>.ts `migration.open`). Each opens ONE connection,
// used for the whole run.

export type Row = Record<string, unknown>

/** A `_prisma_migrations` row, read back. */
export interface MigrationRecord {
  id: string
  checksum: string
  migrationName: string
  startedAt: Date | null
  finishedAt: Date | null
  rolledBackAt: Date | null
  logs: string | null
  appliedStepsCount: number
}

export interface MigrationDriver {
  readonly provider: string
  /** `_prisma_migrations`, quoted for this database. */
  readonly migrationsTable: string
  /**
   * Whether DDL can be rolled back with the transaction around it. MySQL commits implicitly at each DDL statement,
   * so there a migration is recorded as started first and marked finished (or failed) afterwards, as Prisma does.
   */
  readonly transactionalDdl: boolean
  /** Placeholder for the n-th (1-based) query parameter. */
  param(n: number): string
  /** How a timestamp is written to this database's `_prisma_migrations`. */
  timestamp(date: Date): unknown
  readTimestamp(value: unknown): Date | null
  query(sql: string, params?: unknown[]): Promise<Row[]>
  /** Runs a whole multi-statement script. */
  executeScript(sql: string): Promise<void>
  /** Creates what the migrated schema needs before anything else (PostgreSQL: the URL's schema). */
  prepare(): Promise<void>
  /** Serializes runners for the whole run, where the database offers a lock that outlives transactions. */
  lock(timeoutMs: number): Promise<void>
  unlock(): Promise<void>
  /** Opens the transaction one migration runs in (SQLite: BEGIN IMMEDIATE, so writers queue behind it). */
  begin(): Promise<void>
  commit(): Promise<void>
  rollback(): Promise<void>
  /** Tables of the migrated schema, besides the database's own bookkeeping tables. */
  tableNames(): Promise<string[]>
  /** The database error's code, for the failure logs. */
  errorCode(error: unknown): string | undefined
  isLockTimeout(error: unknown): boolean
  close(): Promise<void>
}

