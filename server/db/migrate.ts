// Amorce's migration runner: applies prisma/<provider>/migrations like `prisma migrate deploy`, keeping `_prisma_migrations` exactly as Prisma keeps it.
// Prisma's native schema engine cannot be downloaded everywhere Amorce is installed, so the install wizard and the
// server run migrations themselves. Because the bookkeeping table has Prisma's DDL and rows (uuid id, sha256
// checksum, timestamps, logs, applied_steps_count), the real `prisma migrate status/deploy` accepts the database later.
import { createHash, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Client, InValue, Transaction } from '@libsql/client'
import type { ClientConfig } from 'pg'
import { mariadbConfig, parseDatabaseUrl, pgConfig, type ServerConnection } from './url.ts'
import { packageDir } from '../paths.ts'

export type Provider = 'sqlite' | 'postgresql' | 'mysql'
export const PROVIDERS: readonly Provider[] = ['sqlite', 'postgresql', 'mysql']

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

// ---------------------------------------------------------------------------------------------
// `_prisma_migrations`, as Prisma's schema engine creates it (prisma-engines,
// schema-engine/connectors/sql-schema-connector/src/flavour/{sqlite,postgres,mysql}.rs, create_migrations_table).
// The SQLite and PostgreSQL texts are byte-for-byte those of @prisma/schema-engine-wasm (a unit test checks).

export const MIGRATIONS_TABLE = '_prisma_migrations'

export const MIGRATIONS_TABLE_DDL: Readonly<Record<Provider, string>> = {
  sqlite: `CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
);
`,
  postgresql: `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);
`,
  mysql: `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             DATETIME(3),
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          DATETIME(3),
    started_at              DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    applied_steps_count     INTEGER UNSIGNED NOT NULL DEFAULT 0
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
`
}

/** Prisma's advisory lock key for Migrate on PostgreSQL: holding it keeps `prisma migrate` and us from overlapping. */
export const PRISMA_ADVISORY_LOCK_KEY = 72707369
/** Prisma gives up on the lock after 10 s; so do we by default. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000

// ---------------------------------------------------------------------------------------------
// Local migrations

const MIGRATION_FILE = 'migration.sql'
const LOCKFILE = 'migration_lock.toml'
const prismaDir = packageDir('prisma')

export function migrationsDirOf (provider: Provider): string {
  return path.join(prismaDir, provider, 'migrations')
}

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

async function assertLockfileProvider (dir: string, provider: Provider): Promise<void> {
  const content = await readFile(path.join(dir, LOCKFILE), 'utf8').catch(() => null)
  const locked = content?.match(/^\s*provider\s*=\s*"([^"]*)"/m)?.[1]
  if (locked !== undefined && locked !== provider) {
    throw new MigrationError('invalidMigrations', `${path.join(dir, LOCKFILE)} is for provider "${locked}", not "${provider}"`)
  }
}

/** The migrations shipped with this code, in lexical order; the checksum covers the file's exact bytes. */
export async function listLocalMigrations (provider: Provider, options: { migrationsDir?: string } = {}): Promise<LocalMigration[]> {
  assertProvider(provider)
  const dir = options.migrationsDir ?? migrationsDirOf(provider)
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

// ---------------------------------------------------------------------------------------------
// Drivers: the only provider-specific code. Each opens ONE connection, used for the whole run.

type Row = Record<string, unknown>

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

interface MigrationDriver {
  readonly provider: Provider
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

/** `file:/abs/app.db`, `file:./rel.db` (relative to the working directory) or a bare path → absolute path. */
export function sqliteFilePath (url: string): string {
  const withoutQuery = url.replace(/[?#].*$/, '')
  const raw = withoutQuery.startsWith('file://') ? fileURLToPath(withoutQuery) : withoutQuery.replace(/^file:/, '')
  if (raw === '' || raw === ':memory:') throw new MigrationError('invalidUrl', `Not a SQLite database file URL: ${url}`)
  return path.resolve(raw)
}

async function openSqlite (url: string, lockTimeoutMs: number): Promise<MigrationDriver> {
  const file = sqliteFilePath(url)
  // Like `prisma migrate deploy`, which creates a missing SQLite database.
  await mkdir(path.dirname(file), { recursive: true })
  const { createClient } = await import('@libsql/client')
  let client: Client
  try {
    // intMode "number": applied_steps_count comes back as a plain number. `timeout` is SQLite's busy timeout, on
    // every connection: how long BEGIN IMMEDIATE waits for another writer (another runner) before SQLITE_BUSY.
    client = createClient({ url: `file:${file}`, intMode: 'number', timeout: Math.max(0, Math.floor(lockTimeoutMs)) })
    await client.execute('SELECT 1')
  } catch (error) {
    throw new MigrationError('connectionFailed', `Cannot open SQLite database ${file}: ${(error as Error).message}`, { cause: error })
  }
  const db = client
  // libsql's client rolls back any transaction opened by hand around `executeMultiple`: scripts inside a
  // migration's transaction must go through its Transaction object.
  let tx: Transaction | null = null
  const query = async (sql: string, params: unknown[] = []): Promise<Row[]> => {
    const result = await (tx ?? db).execute({ sql, args: params as InValue[] })
    return result.rows.map(row => ({ ...row }))
  }
  const endTransaction = () => { tx?.close(); tx = null }
  return {
    provider: 'sqlite',
    migrationsTable: '"_prisma_migrations"',
    transactionalDdl: true,
    param: () => '?',
    // What Prisma's engine writes through the libsql adapter: RFC 3339 with milliseconds and an explicit offset.
    timestamp: date => date.toISOString().replace('Z', '+00:00'),
    readTimestamp: readSqliteTimestamp,
    query,
    executeScript: sql => (tx ?? db).executeMultiple(sql),
    async prepare () {},
    // SQLite has no session lock that survives transactions; each migration's BEGIN IMMEDIATE is the lock, and the
    // runner re-checks `_prisma_migrations` inside it.
    async lock () {},
    async unlock () {},
    async begin () {
      // libsql enforces foreign keys by default, Prisma's engine does not. Prisma's SQLite scripts redefine a
      // table by copying it and dropping the original, which under enforcement fires the ON DELETE actions of the
      // rows referencing it; their own `PRAGMA foreign_keys=OFF` is a no-op inside a transaction. So it is set
      // here, on the connection the transaction is about to take over (libsql opens a fresh one afterwards).
      await db.execute('PRAGMA foreign_keys = OFF')
      tx = await db.transaction('write') // BEGIN IMMEDIATE
    },
    async commit () {
      try { await tx?.commit() } finally { endTransaction() }
    },
    async rollback () {
      try { await tx?.rollback() } catch {} finally { endTransaction() }
    },
    async tableNames () {
      const rows = await query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      return rows.map(row => String(row.name)).filter(name => !/^(sqlite_|_cf_|libsql_)/.test(name))
    },
    errorCode: error => (error as { code?: string }).code,
    isLockTimeout: error => /^SQLITE_BUSY/.test(String((error as { code?: string }).code ?? '')),
    async close () { endTransaction(); db.close() }
  }
}

/** SQLite keeps timestamps as text (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC from current_timestamp) or epoch ms. */
function readSqliteTimestamp (value: unknown): Date | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value))
  const text = String(value)
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(text) ? `${text.replace(' ', 'T')}Z` : text
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? null : date
}

/** pg settings for a Prisma-style PostgreSQL URL; `schema` selects the search path. TLS modes as in url.ts. */
export function postgresConnection (url: string): { config: ClientConfig; schema: string } {
  let connection: ServerConnection
  try {
    connection = parseDatabaseUrl(url)
  } catch (error) {
    throw new MigrationError('invalidUrl', `Not a PostgreSQL connection URL: ${(error as Error).message}`, { cause: error })
  }
  if (connection.provider !== 'postgresql') throw new MigrationError('invalidUrl', 'Not a PostgreSQL connection URL')
  try {
    return { config: pgConfig(connection), schema: connection.schema ?? 'public' }
  } catch (error) {
    // The CA file named by the URL cannot be read.
    throw new MigrationError('connectionFailed', `Cannot read the TLS settings: ${(error as Error).message}`, { cause: error })
  }
}

function quoteIdent (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

async function openPostgres (url: string): Promise<MigrationDriver> {
  const { config, schema } = postgresConnection(url)
  const { default: pg } = await import('pg')
  // A dedicated client (not a pool): the advisory lock belongs to this session, and so does every statement.
  const client = new pg.Client(config)
  // A connection the server drops (restart, pg_terminate_backend) is also emitted as 'error': without
  // a listener that event would crash the process; the pending query rejects with it anyway.
  client.on('error', () => {})
  try {
    await client.connect()
    // Prisma runs migrations with the URL's `schema` as search path; unqualified names land there.
    await client.query(`SET search_path TO ${quoteIdent(schema)}`)
  } catch (error) {
    await client.end().catch(() => {})
    throw new MigrationError('connectionFailed', `Cannot connect to PostgreSQL: ${(error as Error).message}`, { cause: error })
  }
  let locked = false
  const query = async (sql: string, params: unknown[] = []): Promise<Row[]> => (await client.query(sql, params)).rows as Row[]
  return {
    provider: 'postgresql',
    migrationsTable: '"_prisma_migrations"',
    transactionalDdl: true,
    param: n => `$${n}`,
    timestamp: date => date,
    readTimestamp: value => value === null || value === undefined ? null : new Date(value as string | Date),
    query,
    // Without parameters pg uses the simple query protocol, which accepts several statements.
    async executeScript (sql) { await client.query(sql) },
    // As Prisma does for a `?schema=` that does not exist yet.
    async prepare () { if (schema !== 'public') await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`) },
    async lock (timeoutMs) {
      // Prisma's exact lock, on this session; statement_timeout bounds the wait as Prisma's 10 s timeout does.
      await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`)
      try {
        await client.query(`SELECT pg_advisory_lock(${PRISMA_ADVISORY_LOCK_KEY})`)
        locked = true
      } finally {
        await client.query('RESET statement_timeout')
      }
    },
    async unlock () {
      if (locked) await client.query(`SELECT pg_advisory_unlock(${PRISMA_ADVISORY_LOCK_KEY})`)
      locked = false
    },
    async begin () { await client.query('BEGIN') },
    async commit () { await client.query('COMMIT') },
    async rollback () { await client.query('ROLLBACK').catch(() => {}) },
    async tableNames () {
      const rows = await query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'spatial_ref_sys'")
      return rows.map(row => String(row.tablename))
    },
    errorCode: error => (error as { code?: string }).code,
    // 57014 query_canceled: our statement_timeout expired while waiting for the advisory lock.
    isLockTimeout: error => (error as { code?: string }).code === '57014',
    async close () { await client.end().catch(() => {}) }
  }
}

/** Prisma's lock name for Migrate on MySQL (prisma-engines, flavour/mysql.rs): `GET_LOCK('prisma_migrate', 10)`. */
export const MYSQL_LOCK_NAME = 'prisma_migrate'

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC: what Prisma's engine stores in MySQL's DATETIME(3). */
function mysqlTimestamp (date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '')
}

async function openMysql (url: string): Promise<MigrationDriver> {
  let connection: ServerConnection
  try {
    connection = parseDatabaseUrl(url)
  } catch (error) {
    throw new MigrationError('invalidUrl', `Not a MySQL connection URL: ${(error as Error).message}`, { cause: error })
  }
  if (connection.provider !== 'mysql') throw new MigrationError('invalidUrl', 'Not a MySQL connection URL')
  const mariadb = await import('mariadb')
  let conn: import('mariadb').Connection
  try {
    // One connection for the whole run: GET_LOCK belongs to the session. dateStrings: timestamps are read as the
    // UTC text they were written as, whatever the process's time zone.
    conn = await mariadb.createConnection({ ...mariadbConfig(connection), multipleStatements: true, dateStrings: true })
  } catch (error) {
    throw new MigrationError('connectionFailed', `Cannot connect to MySQL: ${(error as Error).message}`, { cause: error })
  }
  let locked = false
  const query = async (sql: string, params: unknown[] = []): Promise<Row[]> => {
    const result = await conn.query(sql, params)
    return Array.isArray(result) ? result.map(row => ({ ...row })) : []
  }
  return {
    provider: 'mysql',
    migrationsTable: '`_prisma_migrations`',
    transactionalDdl: false,
    param: () => '?',
    timestamp: mysqlTimestamp,
    readTimestamp: value => {
      if (value === null || value === undefined) return null
      const date = value instanceof Date ? value : new Date(`${String(value).replace(' ', 'T')}Z`)
      return Number.isNaN(date.getTime()) ? null : date
    },
    query,
    async executeScript (sql) { await conn.query(sql) },
    async prepare () {},
    async lock (timeoutMs) {
      // GET_LOCK answers 1 (taken), 0 (timed out) or NULL (error, e.g. killed): only 1 means we hold it.
      const seconds = Math.max(1, Math.ceil(timeoutMs / 1000))
      const [row] = await query(`SELECT GET_LOCK('${MYSQL_LOCK_NAME}', ${seconds}) AS taken`)
      const taken = row?.taken === null || row?.taken === undefined ? null : Number(row.taken)
      if (taken === 1) {
        locked = true
        return
      }
      if (taken === 0) throw new MigrationError('lockTimeout', `Timed out after ${seconds} s waiting for the migration lock (another instance is migrating)`)
      throw new MigrationError('connectionFailed', 'MySQL could not take the migration lock (GET_LOCK returned NULL)')
    },
    async unlock () {
      if (locked) await query(`SELECT RELEASE_LOCK('${MYSQL_LOCK_NAME}')`)
      locked = false
    },
    async begin () { await conn.beginTransaction() },
    async commit () { await conn.commit() },
    async rollback () { await conn.rollback().catch(() => {}) },
    async tableNames () {
      const rows = await query("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")
      return rows.map(row => String(row.name))
    },
    // Prisma logs MySQL's numeric error code.
    errorCode: error => {
      const errno = (error as { errno?: number }).errno
      return errno === undefined ? (error as { code?: string }).code : String(errno)
    },
    isLockTimeout: error => error instanceof MigrationError && error.code === 'lockTimeout',
    async close () { await conn.end().catch(() => { conn.destroy() }) }
  }
}

async function openDriver (provider: Provider, url: string, lockTimeoutMs: number): Promise<MigrationDriver> {
  assertProvider(provider)
  switch (provider) {
    case 'sqlite': return openSqlite(url, lockTimeoutMs)
    case 'postgresql': return openPostgres(url)
    case 'mysql': return openMysql(url)
  }
}

function assertProvider (provider: string): asserts provider is Provider {
  if (!(PROVIDERS as readonly string[]).includes(provider)) {
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
      await driver.executeScript(MIGRATIONS_TABLE_DDL[driver.provider])
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
  /** Tests point this at a copy of prisma/<provider>/migrations. */
  migrationsDir?: string
}

/** Compares the database with the local migrations; reads only (no table is created). */
export async function migrationStatus (options: MigrationTarget): Promise<MigrationStatus> {
  const local = await listLocalMigrations(options.provider, options)
  // Opening a missing SQLite file would create it: a status must not.
  if (options.provider === 'sqlite' && !existsSync(sqliteFilePath(options.url))) return compareHistory(local, [])
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
