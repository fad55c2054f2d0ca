// The only engine-specific code of backups: one connection per run, reading a consistent snapshot in key order
// and writing rows in batches. Raw drivers (@libsql/client, pg, mariadb) rather than Prisma: a backup must read
// millions of rows as a stream inside one read transaction, and a restore must insert in bulk (pg: one `COPY FROM
// STDIN` per batch) and reset sequences: Prisma Client offers neither streaming reads nor engine-specific bulk
// paths, and its interactive transactions time out.
import type { Value } from './codec.ts'
import type { ColumnSpec, ColumnType, ForeignKeySpec, TableSpec } from './schema.ts'
import { BackupError } from './errors.ts'
import { sqliteFilePath, type Provider } from '../db/migrate.ts'
import { mariadbConfig, parseDatabaseUrl, pgConfig } from '../db/url.ts'

export interface EngineConnection {
  readonly provider: Provider
  /** Opens the read transaction every later read sees (one snapshot for the whole backup). */
  beginSnapshot(): Promise<void>
  /** The last migration applied to this database (lexical order, as the runner applies them), or null. */
  lastMigration(): Promise<string | null>
  count(table: string): Promise<number>
  /** The table's rows in key order, in batches of normalized values (column order of `table.columns`). */
  readRows(table: TableSpec, batchSize: number): AsyncIterable<Value[][]>
  /** The value of a Setting row, or null (no such row, or no Setting table yet). */
  settingValue(key: string): Promise<string | null>
  /** The table's column names, or null when it does not exist. */
  columnsOf(table: string): Promise<string[] | null>
  beginWrite(): Promise<void>
  insert(table: string, columns: ColumnSpec[], rows: Value[][]): Promise<void>
  /**
   * Checks every foreign key of `tables` against the rows written (an engine that loads with its checks off
   * must check afterwards); throws a BackupError('rowForeignKey') naming the table and column.
   */
  checkForeignKeys(tables: TableSpec[]): Promise<void>
  /** Makes the table's auto-increment counters continue after the highest value it holds. */
  continueSequences(table: string, columns: ColumnSpec[]): Promise<void>
  /** True when sequences must be reset outside the write transaction (MySQL: ALTER TABLE commits). */
  readonly sequencesAfterCommit: boolean
  commit(): Promise<void>
  rollback(): Promise<void>
  close(): Promise<void>
}

export async function openEngine (provider: Provider, url: string): Promise<EngineConnection> {
  switch (provider) {
    case 'sqlite': return openSqlite(url)
    case 'postgresql': return openPostgres(url)
    case 'mysql': return openMysql(url)
  }
}

/** Rows a batched multi-row INSERT can carry under the engine's parameter limit. */
function rowsPerStatement (columns: number, maxParams: number, cap: number): number {
  return Math.max(1, Math.min(cap, Math.floor(maxParams / Math.max(1, columns))))
}

function parseUtc (text: string): Date {
  // 'YYYY-MM-DD HH:MM:SS[.ffffff][+00[:00]|Z]': a value without an offset was stored as UTC by Prisma.
  const m = text.trim().match(/^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?)?$/)
  if (!m) {
    const date = new Date(text)
    if (Number.isNaN(date.getTime())) throw new Error(`unreadable date: ${text}`)
    return date
  }
  const ms = (m[3] ?? '.000').slice(0, 4).padEnd(4, '0')
  let zone = m[4] ?? 'Z'
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00'
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`
  return new Date(`${m[1]}T${m[2]}${ms}${zone}`)
}

function foreignKeyError (table: TableSpec, fk: ForeignKeySpec | undefined): BackupError {
  return new BackupError('rowForeignKey', `a row of ${table.name} references a missing row`, { name: table.name, line: '-', column: fk?.columns.join(', ') ?? '-', table: fk?.table ?? '-' })
}

function keyOrder (table: TableSpec, q: (name: string) => string): string {
  return table.key.map(q).join(', ')
}

// ---------------------------------------------------------------------------------------------
// SQLite (@libsql/client)

async function openSqlite (url: string): Promise<EngineConnection> {
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
// PostgreSQL (pg)

async function openPostgres (url: string): Promise<EngineConnection> {
  const connection = parseDatabaseUrl(url)
  const { default: pg } = await import('pg')
  // Every value as the server's text, except bytea: our own parsing decides dates (UTC), int8 and numeric.
  const byteaParser = pg.types.getTypeParser(17, 'text')
  const client = new pg.Client({
    ...pgConfig(connection),
    types: { getTypeParser: ((oid: number) => oid === 17 ? byteaParser : (v: string) => v) as never }
  })
  await client.connect()
  const schema = connection.schema ?? 'public'
  await client.query(`SET search_path TO "${schema.replaceAll('"', '""')}"`)
  await client.query("SET TIME ZONE 'UTC'")
  const q = (name: string) => `"${name}"`
  let cursor = 0

  const read = (type: ColumnType, raw: unknown): Value => {
    if (raw === null || raw === undefined) return null
    switch (type) {
      case 'Int': case 'Float': return Number(raw)
      case 'BigInt': return BigInt(raw as string)
      case 'Boolean': return raw === 't' || raw === 'true'
      case 'DateTime': return parseUtc(String(raw))
      case 'Json': return JSON.parse(String(raw))
      case 'Bytes': return raw as Buffer
      default: return String(raw)
    }
  }
  const text = (type: ColumnType, value: Value): string | null => {
    if (value === null || value === undefined) return null
    switch (type) {
      case 'Boolean': return value ? 'true' : 'false'
      case 'DateTime': return (value as Date).toISOString()
      case 'Json': return JSON.stringify(value)
      case 'Bytes': return `\\x${(value as Buffer).toString('hex')}`
      default: return String(value)
    }
  }
  const columnTypes = async (table: string): Promise<Map<string, string>> => {
    const rows = (await client.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`, [table])).rows as Array<{ name: string, type: string }>
    return new Map(rows.map(r => [r.name, r.type]))
  }

  return {
    provider: 'postgresql',
    sequencesAfterCommit: false,
    async beginSnapshot () { await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY') },
    async lastMigration () {
      const exists = await client.query("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = '_prisma_migrations'")
      if (exists.rowCount === 0) return null
      const rows = await client.query('SELECT max(migration_name) AS name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
      return (rows.rows[0]?.name as string | null) ?? null
    },
    async count (table) {
      return Number((await client.query(`SELECT count(*) AS n FROM ${q(table)}`)).rows[0].n)
    },
    async * readRows (table, batchSize) {
      // A server-side cursor: the server streams the snapshot, we hold one batch at a time.
      const name = `amorce_backup_${++cursor}`
      await client.query(`DECLARE ${name} NO SCROLL CURSOR FOR SELECT ${table.columns.map(c => q(c.name)).join(', ')} FROM ${q(table.name)} ORDER BY ${keyOrder(table, q)}`)
      try {
        for (;;) {
          const result = await client.query({ text: `FETCH ${batchSize} FROM ${name}`, rowMode: 'array' })
          if (result.rows.length === 0) return
          yield (result.rows as unknown[][]).map(row => table.columns.map((c, i) => read(c.type, row[i])))
        }
      } finally {
        await client.query(`CLOSE ${name}`).catch(() => {})
      }
    },
    async settingValue (key) {
      if ((await columnTypes('Setting')).size === 0) return null
      const result = await client.query('SELECT value FROM "Setting" WHERE key = $1', [key])
      return result.rows[0] ? String(result.rows[0].value) : null
    },
    async columnsOf (table) {
      const types = await columnTypes(table)
      return types.size === 0 ? null : [...types.keys()]
    },
    async beginWrite () { await client.query('BEGIN') },
    async insert (table, columns, rows) {
      // COPY FROM STDIN, the engine's own bulk path (what `psql \copy` does), one COPY per batch inside the
      // transaction. Each value is the server's text form, parsed by the target column's own input function, so
      // @db.* native types work too. (A multi-row INSERT … SELECT FROM unnest(text[]…) was 2-3× slower: the
      // server parses the arrays and casts each value, and the client spent its time escaping array literals.)
      if (rows.length === 0) return
      const lines: string[] = []
      for (const row of rows) lines.push(columns.map((c, i) => copyText(text(c.type, row[i]))).join('\t'))
      const data = Buffer.from(lines.join('\n') + '\n', 'utf8')
      await copyIn(client, `COPY ${q(table)} (${columns.map(c => q(c.name)).join(', ')}) FROM STDIN`, data)
    },
    // Constraints stay on: COPY checks each foreign key as it loads (rows come referenced tables first).
    async checkForeignKeys () {},
    async continueSequences (table, columns) {
      for (const column of columns.filter(c => c.autoincrement)) {
        await client.query(
          `SELECT setval(pg_get_serial_sequence(format('%I.%I', current_schema(), $1::text), $2), COALESCE((SELECT max(${q(column.name)}) FROM ${q(table)}), 0) + 1, false)`,
          [table, column.name])
      }
    },
    async commit () { await client.query('COMMIT') },
    async rollback () { await client.query('ROLLBACK').catch(() => {}) },
    async close () { await client.end().catch(() => {}) }
  }
}

/** A value in COPY's text format: `\N` for NULL, backslash escapes for the characters COPY gives a meaning to. */
function copyText (value: string | null): string {
  if (value === null) return '\\N'
  return /[\\\n\r\t]/.test(value) ? value.replace(/[\\\n\r\t]/g, ch => COPY_ESCAPES[ch]) : value
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

interface PgConnection { query(text: string): void, sendCopyFromChunk(chunk: Buffer): void, endCopyFrom(): void }

/**
 * COPY … FROM STDIN with pg's own protocol methods (pg-copy-streams is not a dependency): a "submittable" the
 * client runs in its queue like any query. The data is sent once the server asks for it (CopyInResponse).
 */
function copyIn (client: { query(submittable: object): unknown }, sql: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false
    const done = (error?: Error) => {
      if (settled) return
      settled = true
      if (error) reject(error)
      else resolve()
    }
    const CHUNK = 256 * 1024
    client.query({
      submit (connection: PgConnection) { connection.query(sql) },
      handleCopyInResponse (connection: PgConnection) {
        for (let start = 0; start < data.length; start += CHUNK) connection.sendCopyFromChunk(data.subarray(start, start + CHUNK))
        connection.endCopyFrom()
      },
      handleCommandComplete () {},
      handleReadyForQuery () { done() },
      handleError (error: Error) { done(error) },
      // Not expected from COPY FROM; present so that an unexpected message cannot throw inside the client.
      handleRowDescription () {},
      handleDataRow () {},
      handleEmptyQuery () {},
      handlePortalSuspended () {},
      handleCopyData () {}
    })
  })
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB (mariadb)

async function openMysql (url: string): Promise<EngineConnection> {
  const connection = parseDatabaseUrl(url)
  const mariadb = await import('mariadb')
  // dateStrings: DATETIME comes back as the UTC text Prisma wrote, whatever the process's time zone.
  const conn = await mariadb.createConnection({
    ...mariadbConfig(connection), dateStrings: true, bigIntAsNumber: false, decimalAsNumber: false, autoJsonMap: false
  })
  await conn.query("SET time_zone = '+00:00'")
  const q = (name: string) => `\`${name.replaceAll('`', '``')}\``

  const read = (type: ColumnType, raw: unknown): Value => {
    if (raw === null || raw === undefined) return null
    switch (type) {
      case 'Int': case 'Float': return Number(raw)
      case 'BigInt': return BigInt(raw as bigint)
      case 'Decimal': return String(raw)
      case 'Boolean': return Number(raw) !== 0
      case 'DateTime': return parseUtc(String(raw))
      case 'Json': return typeof raw === 'string' ? JSON.parse(raw) : Buffer.isBuffer(raw) ? JSON.parse(raw.toString('utf8')) : raw
      case 'Bytes': return Buffer.from(raw as Buffer)
      default: return Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw)
    }
  }
  const write = (type: ColumnType, value: Value): unknown => {
    if (value === null || value === undefined) return null
    switch (type) {
      case 'Boolean': return value ? 1 : 0
      case 'DateTime': return (value as Date).toISOString().replace('T', ' ').replace('Z', '')
      case 'Json': return JSON.stringify(value)
      case 'BigInt': return String(value)
      default: return value
    }
  }

  return {
    provider: 'mysql',
    sequencesAfterCommit: true,
    async beginSnapshot () {
      await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
      await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
    },
    async lastMigration () {
      const exists = await conn.query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '_prisma_migrations'")
      if ((exists as unknown[]).length === 0) return null
      const rows = await conn.query('SELECT max(migration_name) AS name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
      return (rows[0]?.name as string | null) ?? null
    },
    async count (table) {
      return Number((await conn.query(`SELECT count(*) AS n FROM ${q(table)}`))[0].n)
    },
    async * readRows (table, batchSize) {
      const columns = table.columns.map(c => q(c.name)).join(', ')
      const keyIndexes = table.key.map(k => table.columns.findIndex(c => c.name === k))
      const keyTuple = table.key.length === 1 ? q(table.key[0]) : `(${table.key.map(q).join(', ')})`
      const placeholders = table.key.length === 1 ? '?' : `(${table.key.map(() => '?').join(', ')})`
      let last: unknown[] | null = null
      for (;;) {
        const where: string = last === null ? '' : ` WHERE ${keyTuple} > ${placeholders}`
        const rows = await conn.query({ sql: `SELECT ${columns} FROM ${q(table.name)}${where} ORDER BY ${keyOrder(table, q)} LIMIT ${batchSize}`, rowsAsArray: true }, last ?? []) as unknown[][]
        if (rows.length === 0) return
        last = keyIndexes.map(i => rows[rows.length - 1][i])
        yield rows.map(row => table.columns.map((c, i) => read(c.type, row[i])))
        if (rows.length < batchSize) return
      }
    },
    async settingValue (key) {
      const exists = await conn.query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'Setting'")
      if ((exists as unknown[]).length === 0) return null
      const rows = await conn.query('SELECT `value` FROM `Setting` WHERE `key` = ?', [key]) as Array<{ value: unknown }>
      return rows[0] ? (Buffer.isBuffer(rows[0].value) ? rows[0].value.toString('utf8') : String(rows[0].value)) : null
    },
    async columnsOf (table) {
      const rows = await conn.query('SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position', [table]) as Array<{ name: string }>
      return rows.length === 0 ? null : rows.map(r => String(r.name))
    },
    async beginWrite () {
      // Rows come in foreign-key order; a self-reference may point forward, and the source was consistent.
      await conn.query('SET SESSION foreign_key_checks = 0')
      await conn.beginTransaction()
    },
    async insert (table, columns, rows) {
      const per = rowsPerStatement(columns.length, 60_000, 2000)
      const head = `INSERT INTO ${q(table)} (${columns.map(c => q(c.name)).join(', ')}) VALUES `
      const tuple = `(${columns.map(() => '?').join(', ')})`
      // A statement stays well under max_allowed_packet (16 MiB by default): long rows go in smaller statements.
      const MAX_STATEMENT_BYTES = 4 * 1024 * 1024
      let start = 0
      while (start < rows.length) {
        let end = start
        let bytes = 0
        while (end < rows.length && end - start < per && (end === start || bytes < MAX_STATEMENT_BYTES)) {
          for (const v of rows[end]) bytes += typeof v === 'string' ? v.length * 3 : Buffer.isBuffer(v) ? v.length * 2 : 24
          end++
        }
        const slice = rows.slice(start, end)
        await conn.query(head + slice.map(() => tuple).join(', '), slice.flatMap(row => columns.map((c, i) => write(c.type, row[i]))))
        start = end
      }
    },
    // foreign_key_checks = 0 for the load (bulk speed, forward self-references): every key is checked here,
    // inside the transaction, with one anti-join per foreign key, before anything commits.
    async checkForeignKeys (tables) {
      for (const table of tables) {
        for (const fk of table.foreignKeys ?? []) {
          const on = fk.columns.map((c, i) => `p.${q(fk.references[i])} = c.${q(c)}`).join(' AND ')
          const notNull = fk.columns.map(c => `c.${q(c)} IS NOT NULL`).join(' AND ')
          const rows = await conn.query(`SELECT 1 FROM ${q(table.name)} c LEFT JOIN ${q(fk.table)} p ON ${on} WHERE ${notNull} AND p.${q(fk.references[0])} IS NULL LIMIT 1`) as unknown[]
          if (rows.length > 0) throw foreignKeyError(table, fk)
        }
      }
    },
    async continueSequences (table, columns) {
      if (!columns.some(c => c.autoincrement)) return
      const column = columns.find(c => c.autoincrement)!
      const [row] = await conn.query(`SELECT COALESCE(max(${q(column.name)}), 0) + 1 AS next FROM ${q(table)}`)
      await conn.query(`ALTER TABLE ${q(table)} AUTO_INCREMENT = ${BigInt(row.next).toString()}`)
    },
    async commit () {
      await conn.commit()
      await conn.query('SET SESSION foreign_key_checks = 1')
    },
    async rollback () {
      await conn.rollback().catch(() => {})
      await conn.query('SET SESSION foreign_key_checks = 1').catch(() => {})
    },
    async close () { await conn.end().catch(() => {}) }
  }
}
