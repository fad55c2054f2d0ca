// SQLite: the database is a file on this server (@libsql/client, @prisma/adapter-libsql). Everything Amorce knows
// about the engine: its URL (`file:<absolute path>`), the file test, the client adapter, the migration driver and
// the backup driver. The contract is engine.ts.
import { constants, existsSync } from 'node:fs'
import { access, mkdir, open, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Client, InValue, Transaction } from '@libsql/client'
import type { Value } from '../../backup/codec.ts'
import { foreignKeyError, keyOrder, parseUtc, rowsPerStatement, type BackupConnection } from '../../backup/connection.ts'
import type { ColumnLimit, ColumnType } from '../../backup/schema.ts'
import { fsCause } from '../../i18n.ts'
import { listLocalMigrations, MigrationError, MIGRATIONS_TABLE, type MigrationDriver, type Row } from '../migrations.ts'
import type { FileEngine, FileProbeResult, ProbeOptions } from './engine.ts'

export type SqliteProbeResult = FileProbeResult

/** `file:/abs/app.db`, `file:./rel.db` (relative to the working directory) or a bare path → absolute path. */
export function sqliteFilePath (url: string): string {
  const withoutQuery = url.replace(/[?#].*$/, '')
  const raw = withoutQuery.startsWith('file://') ? fileURLToPath(withoutQuery) : withoutQuery.replace(/^file:/, '')
  if (raw === '' || raw === ':memory:') throw new MigrationError('invalidUrl', `Not a SQLite database file URL: ${url}`)
  return path.resolve(raw)
}

// ---------------------------------------------------------------------------------------------
// The file test: before the wizard commits to a location, the directory can be created and written, the file is a
// SQLite database (or can be created), and it is not another app's database.

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

export async function probeSqliteFile (file: string, options: Pick<ProbeOptions, 'schema'>): Promise<SqliteProbeResult> {
  if (!path.isAbsolute(file)) return { ok: false, reason: 'notAbsolute', file }
  const dir = path.dirname(file)
  const existing = await stat(file).catch(() => null)
  if (existing?.isDirectory()) return { ok: false, reason: 'isDirectory', file }
  // A device, a FIFO or a socket "exists and is empty": SQLite would fail on it at install time.
  if (existing && !existing.isFile()) return { ok: false, reason: 'notRegularFile', file }

  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.W_OK)
    // Really create a file beside it: access() alone says yes on read-only mounts.
    const probe = path.join(dir, `.amorce-probe-${process.pid}-${Date.now()}`)
    await (await open(probe, 'wx', 0o600)).close()
    await rm(probe)
  } catch (err) {
    return { ok: false, reason: 'dirNotWritable', file, detail: fsCause((err as NodeJS.ErrnoException).code) }
  }
  if (!existing || existing.size === 0) return { ok: true, state: 'new', file }

  const head = Buffer.alloc(16)
  const fh = await open(file, 'r')
  try { await fh.read(head, 0, 16, 0) } finally { await fh.close() }
  if (!head.equals(SQLITE_MAGIC)) return { ok: false, reason: 'notSqlite', file }

  // libsql (a native module) is loaded when a SQLite file is first probed, not at every start.
  const { createClient } = await import('@libsql/client')
  const client = createClient({ url: `file:${file}` })
  try {
    const rs = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    const tables = rs.rows.map(r => String(r.name))
    if (tables.length === 0) return { ok: true, state: 'empty', file }
    if (tables.includes(MIGRATIONS_TABLE)) {
      // Ours when the history it records is this app's (another Prisma app's database is "foreign").
      const local = new Set((await listLocalMigrations('sqlite', { migrationsDir: options.schema.migrationsDir('sqlite') })).map(m => m.name))
      const rs = await client.execute(`SELECT migration_name FROM ${MIGRATIONS_TABLE} WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`)
      const applied = rs.rows.map(r => String(r.migration_name))
      if (applied.length > 0 && applied.every(name => local.has(name))) return { ok: true, state: 'ours', file, migrations: applied.length }
    }
    return { ok: false, reason: 'foreignTables', file, detail: tables.slice(0, 5).join(', ') }
  } catch (err) {
    return { ok: false, reason: 'unreadable', file, detail: (err as Error).message }
  } finally {
    client.close()
  }
}

/** The version of the SQLite library the driver embeds; throws when the driver cannot load. */
export async function sqliteDriverVersion (): Promise<string> {
  const { createClient } = await import('@libsql/client')
  const client = createClient({ url: ':memory:' })
  try {
    const rs = await client.execute('SELECT sqlite_version() AS v')
    return String(rs.rows[0].v)
  } finally {
    client.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Migration driver

async function openMigrationDriver (url: string, lockTimeoutMs: number): Promise<MigrationDriver> {
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

// ---------------------------------------------------------------------------------------------
// Backup driver

async function openBackup (url: string): Promise<BackupConnection> {
  const { createClient } = await import('@libsql/client')
  const client = createClient({ url: `file:${sqliteFilePath(url)}`, intMode: 'bigint' })
  const q = (name: string) => `"${name}"`

  const read = (type: ColumnType, raw: unknown): Value => {
    if (raw === null || raw === undefined) return null
    switch (type) {
      case 'Int': case 'Float': return Number(raw)
      case 'BigInt': return BigInt(raw as bigint)
      case 'Decimal': return String(raw)
      case 'Boolean': return Number(raw) !== 0
      case 'DateTime': return typeof raw === 'string' ? parseUtc(raw) : new Date(Number(raw))
      case 'Json': return JSON.parse(String(raw))
      case 'Bytes': return Buffer.from(raw as ArrayBuffer)
      default: return String(raw)
    }
  }
  const write = (type: ColumnType, value: Value): string | number | bigint | Uint8Array | null => {
    if (value === null || value === undefined) return null
    switch (type) {
      case 'Boolean': return value ? 1 : 0
      // Prisma's own SQLite text form, so the app reads restored dates exactly as it reads its own.
      case 'DateTime': return (value as Date).toISOString().replace('Z', '+00:00')
      case 'Json': return JSON.stringify(value)
      case 'Bytes': return value as Buffer
      case 'BigInt': return value as bigint
      case 'Int': case 'Float': return value as number
      default: return String(value)
    }
  }

  return {
    provider: 'sqlite',
    sequencesAfterCommit: false,
    async beginSnapshot () {
      await client.execute('BEGIN')
      // A deferred transaction takes its snapshot at the first read: read now.
      await client.execute('SELECT count(*) FROM sqlite_master')
    },
    async lastMigration () {
      const exists = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'")
      if (exists.rows.length === 0) return null
      const rows = await client.execute('SELECT max(migration_name) AS name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
      return (rows.rows[0]?.name as string | null) ?? null
    },
    async count (table) {
      return Number((await client.execute(`SELECT count(*) AS n FROM ${q(table)}`)).rows[0].n)
    },
    async * readRows (table, batchSize) {
      const columns = table.columns.map(c => q(c.name)).join(', ')
      const keyIndexes = table.key.map(k => table.columns.findIndex(c => c.name === k))
      const keyTuple = table.key.length === 1 ? q(table.key[0]) : `(${table.key.map(q).join(', ')})`
      const placeholders = table.key.length === 1 ? '?' : `(${table.key.map(() => '?').join(', ')})`
      let last: unknown[] | null = null
      for (;;) {
        const where: string = last === null ? '' : ` WHERE ${keyTuple} > ${placeholders}`
        const result = await client.execute({ sql: `SELECT ${columns} FROM ${q(table.name)}${where} ORDER BY ${keyOrder(table, q)} LIMIT ${batchSize}`, args: (last ?? []) as never })
        if (result.rows.length === 0) return
        const lastRow: Record<number, unknown> = result.rows[result.rows.length - 1]
        last = keyIndexes.map(i => lastRow[i])
        yield result.rows.map(row => table.columns.map((c, i) => read(c.type, row[i])))
        if (result.rows.length < batchSize) return
      }
    },
    async settingValue (key) {
      const result = await client.execute({ sql: 'SELECT value FROM "Setting" WHERE key = ?', args: [key] }).catch(() => null)
      return result?.rows[0] ? String(result.rows[0].value) : null
    },
    async columnsOf (table) {
      const rows = (await client.execute({ sql: 'SELECT name FROM pragma_table_info(?)', args: [table] })).rows
      return rows.length === 0 ? null : rows.map(r => String(r.name))
    },
    async beginWrite () {
      await client.execute('BEGIN IMMEDIATE')
      // Rows arrive in foreign-key order, but a self-reference may point forward: check at commit.
      await client.execute('PRAGMA defer_foreign_keys = ON')
    },
    async insert (table, columns, rows) {
      const per = rowsPerStatement(columns.length, 30_000, 500)
      const head = `INSERT INTO ${q(table)} (${columns.map(c => q(c.name)).join(', ')}) VALUES `
      const tuple = `(${columns.map(() => '?').join(', ')})`
      for (let start = 0; start < rows.length; start += per) {
        const slice = rows.slice(start, start + per)
        const args = slice.flatMap(row => columns.map((c, i) => write(c.type, row[i])))
        await client.execute({ sql: head + slice.map(() => tuple).join(', '), args: args as never })
      }
    },
    async checkForeignKeys (tables) {
      // Deferred checks would fail at COMMIT with a bare "FOREIGN KEY constraint failed": name the table first.
      for (const table of tables) {
        const rows = (await client.execute({ sql: 'SELECT rowid, fkid FROM pragma_foreign_key_check(?) LIMIT 1', args: [table.name] })).rows
        if (rows.length > 0) throw foreignKeyError(table, table.foreignKeys?.[Number(rows[0].fkid)])
      }
    },
    // SQLite's AUTOINCREMENT keeps the largest id ever inserted in sqlite_sequence, explicit ids included; a
    // rowid table without AUTOINCREMENT continues after max(rowid) by itself. Nothing to do, by design.
    async continueSequences () {},
    async commit () { await client.execute('COMMIT') },
    async rollback () { await client.execute('ROLLBACK').catch(() => {}) },
    async close () { client.close() }
  }
}

// ---------------------------------------------------------------------------------------------

export const sqlite: FileEngine<'sqlite'> = {
  id: 'sqlite',
  kind: 'file',
  labelKey: 'setup.database.providers.sqlite',
  fileUrl: file => `file:${file}`,
  filePath: sqliteFilePath,
  probeFile: probeSqliteFile,
  driverVersion: sqliteDriverVersion,
  async preload (schema) {
    await Promise.all([schema.client('sqlite'), import('@prisma/adapter-libsql')])
  },
  async createClient (schema, url) {
    const [PrismaClient, { PrismaLibSql }] = await Promise.all([schema.client('sqlite'), import('@prisma/adapter-libsql')])
    return new PrismaClient({ adapter: new PrismaLibSql({ url }) })
  },
  // There is no connection to lose: a driver error is not a network cause.
  classifyError: () => 'unknown',
  migration: {
    // As Prisma's schema engine creates it (prisma-engines, sql-schema-connector/src/flavour/sqlite.rs); byte-for-byte
    // that of @prisma/schema-engine-wasm (test/unit/db/migrate.test.ts checks).
    tableDdl: `CREATE TABLE "_prisma_migrations" (
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
    open: openMigrationDriver,
    exists: url => existsSync(sqliteFilePath(url))
  },
  backup: {
    open: openBackup,
    batchSize: 1000,
    limits (tables) {
      const limits = new Map<string, ColumnLimit>()
      // NaN is stored as NULL.
      for (const table of tables) for (const column of table.columns) if (column.type === 'Float') limits.set(`${table.name}.${column.name}`, { finiteFloat: true })
      return limits
    }
  }
}
