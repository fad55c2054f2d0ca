// MySQL and MariaDB (mariadb, @prisma/adapter-mariadb). Everything Amorce knows about the engine: its URL
// (`mysql://` or `mariadb://`, Prisma's `sslaccept`), the connection test and its causes, the client adapter, the
// migration driver (GET_LOCK, DDL that commits at once) and the backup driver. The contract is engine.ts.
import type { Connection as MariaConnection, ConnectionConfig } from 'mariadb'
import type { Value } from '../../backup/codec.ts'
import { foreignKeyError, keyOrder, parseUtc, rowsPerStatement, type BackupConnection } from '../../backup/connection.ts'
import type { ColumnLimit, ColumnType } from '../../backup/schema.ts'
import { MigrationError, MIGRATIONS_TABLE, type LocalMigration, type MigrationDriver, type Row } from '../migrations.ts'
import { CONNECT_TIMEOUT_MS, readServerUrl, tlsOptions, type ServerConnection } from '../url.ts'
import type { ProbeCause, ProbeFailure, ProbeOptions, ProbeResult, ServerEngine } from './engine.ts'
import { bounded, classifyContents, errorFields, failure, networkCause, olderThan, PROBE_PREFIX, privilegeChecks, runChecks, versionParts } from './support.ts'

/** The oldest release lines still maintained upstream at the start of 2025 (docs/databases.md). */
const MINIMUM_VERSIONS: Readonly<Record<string, readonly number[]>> = { MySQL: [8, 0], MariaDB: [10, 5] }

const PROTOCOLS = ['mysql:', 'mariadb:'] as const

/** This engine's settings from a `mysql://` URL (another engine's URL is refused). */
function parseUrl (text: string): ServerConnection {
  return readServerUrl(text, protocol => (PROTOCOLS as readonly string[]).includes(protocol) ? mysql : undefined)
}

function mariadbConfig (c: ServerConnection, options: { database?: string | null, connectTimeoutMs?: number } = {}): ConnectionConfig {
  const ssl = tlsOptions(c)
  const database = options.database === null ? undefined : options.database ?? c.database
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    ...(database === undefined ? {} : { database }),
    ...(ssl === false ? {} : { ssl }),
    connectTimeout: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    // MySQL 8's default caching_sha2_password over plain TCP needs the server's RSA key.
    allowPublicKeyRetrieval: true,
    charset: 'utf8mb4'
  }
}

// ---------------------------------------------------------------------------------------------
// Connection test

function classifyMysqlError (error: unknown): ProbeCause {
  const { code, errno, message } = errorFields(error)
  // 3159: require_secure_transport=ON; 1045 would be indistinguishable from a wrong password.
  if (errno === 3159 || code === 'ER_SECURE_TRANSPORT_REQUIRED' || /insecure transport/i.test(message)) return 'tlsRequired'
  if (errno === 45023 || /server doesn't support SSL|server does not support SSL|SSL.*not (enabled|supported)/i.test(message) || code === 'ER_SERVER_SSL_DISABLED') return 'tlsUnsupported'
  const network = networkCause(code, message)
  if (network) return network
  if (errno === 1045 || errno === 1698 || code === 'ER_ACCESS_DENIED_ERROR') return 'authFailed'
  if (errno === 1049 || code === 'ER_BAD_DB_ERROR') return 'databaseMissing'
  if (errno === 1044 || code === 'ER_DBACCESS_DENIED_ERROR') return 'databaseDenied'
  return 'unknown'
}

function parseVersion (text: string): { server: string, version: string, parts: number[] } {
  // MariaDB once prefixed 5.5.5- for old clients.
  return { server: /mariadb/i.test(text) ? 'MariaDB' : 'MySQL', ...versionParts(text.replace(/^5\.5\.5-/, '')) }
}

async function mysqlConnect (c: ServerConnection, timeoutMs: number, database?: string | null): Promise<MariaConnection> {
  const mariadb = await import('mariadb')
  let pending: Promise<MariaConnection> | undefined
  try {
    pending = mariadb.createConnection(mariadbConfig(c, { database, connectTimeoutMs: timeoutMs }))
    const conn = await bounded(timeoutMs + 500, pending, () => { pending?.then(late => late.destroy(), () => {}) })
    conn.on('error', () => {})
    return conn
  } catch (error) {
    throw error
  }
}

const myQuote = (name: string) => `\`${name.replaceAll('`', '``')}\``

/** Whether the account holds CREATE on every database, or on a database pattern matching `name`. */
async function mysqlCanCreateDatabase (c: ServerConnection, timeoutMs: number): Promise<boolean> {
  let conn: MariaConnection | undefined
  try {
    conn = await mysqlConnect(c, timeoutMs, null)
    const grantee = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"
    const global = await conn.query(`SELECT COUNT(*) AS n FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee} AND PRIVILEGE_TYPE = 'CREATE'`)
    if (Number(global[0].n) > 0) return true
    const scoped = await conn.query(`SELECT COUNT(*) AS n FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${grantee} AND PRIVILEGE_TYPE = 'CREATE' AND ? LIKE TABLE_SCHEMA`, [c.database])
    return Number(scoped[0].n) > 0
  } catch {
    return false
  } finally {
    await conn?.end().catch(() => {})
  }
}

async function probeMysql (c: ServerConnection, options: ProbeOptions & { timeoutMs: number }): Promise<ProbeResult> {
  const { timeoutMs } = options
  let conn: MariaConnection
  try {
    conn = await mysqlConnect(c, timeoutMs)
  } catch (error) {
    const cause = classifyMysqlError(error)
    if (cause === 'databaseMissing') return failure(cause, error, { canCreate: await mysqlCanCreateDatabase(c, timeoutMs) })
    return failure(cause, error)
  }
  try {
    // MariaDB bounds statements with max_statement_time (seconds), MySQL with max_execution_time (SELECT only, ms).
    await conn.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(timeoutMs / 1000))}`).catch(() => {})
    const [{ v }] = await conn.query('SELECT VERSION() AS v')
    const parsed = parseVersion(String(v))
    const minimum = olderThan(MINIMUM_VERSIONS[parsed.server], parsed.parts)
    if (minimum) return failure('versionTooOld', undefined, { version: parsed.version, minimum })
    const tables = (await conn.query("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'") as Array<{ name: string }>).map(r => String(r.name))
    const contents = await classifyContents('mysql', options, tables, async () =>
      (await conn.query(`SELECT migration_name FROM ${myQuote(MIGRATIONS_TABLE)} WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL`) as Array<{ migration_name: string }>).map(r => String(r.migration_name)))
    if ('cause' in contents) return contents
    // DDL commits at once on MySQL: the checks leave real tables, dropped at the end whatever happened.
    const checks = privilegeChecks(sql => conn.query(sql), myQuote)
    const result = await runChecks(checks, 'stop')
    const leftovers = (await conn.query(`SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '${PROBE_PREFIX.replaceAll('_', '\\_')}%'`) as Array<{ name: string }>)
    for (const { name } of leftovers.sort((a, b) => b.name.length - a.name.length)) {
      await conn.query(`DROP TABLE IF EXISTS ${myQuote(name)}`).catch(() => {})
    }
    if (result.missing.length > 0) return failure('privileges', undefined, { missing: result.missing, untested: result.untested })
    return { ok: true, server: parsed.server, version: parsed.version, ...contents }
  } finally {
    await conn.end().catch(() => { conn.destroy() })
  }
}

async function createDatabase (c: ServerConnection, timeoutMs: number): Promise<ProbeFailure | null> {
  let conn: MariaConnection | undefined
  try {
    conn = await mysqlConnect(c, timeoutMs, null)
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${myQuote(c.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
    return null
  } catch (error) {
    const cause = classifyMysqlError(error)
    return failure(cause === 'databaseDenied' || cause === 'unknown' ? 'privileges' : cause, error, { missing: ['CREATE DATABASE'] })
  } finally {
    await conn?.end().catch(() => {})
  }
}

// ---------------------------------------------------------------------------------------------
// Migration driver

/** Prisma's lock name for Migrate on MySQL (prisma-engines, flavour/mysql.rs): `GET_LOCK('prisma_migrate', 10)`. */
export const MYSQL_LOCK_NAME = 'prisma_migrate'

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC: what Prisma's engine stores in MySQL's DATETIME(3). */
function mysqlTimestamp (date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '')
}

async function openMigrationDriver (url: string): Promise<MigrationDriver> {
  let connection: ServerConnection
  try {
    connection = parseUrl(url)
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

// ---------------------------------------------------------------------------------------------
// Backup driver

async function openBackup (url: string): Promise<BackupConnection> {
  const connection = parseUrl(url)
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

// ---------------------------------------------------------------------------------------------

/** Prisma's MySQL default for String without @db.*: VARCHAR(191). */
const MYSQL_DEFAULT_VARCHAR = 191
const MYSQL_TEXT_BYTES: Record<string, number> = { TINYTEXT: 255, TEXT: 65_535, MEDIUMTEXT: 16_777_215, LONGTEXT: 4_294_967_295 }

/** `Table.column` → its declared MySQL type (upper case), from CREATE TABLE and ALTER TABLE … ADD/MODIFY. */
function mysqlDeclaredTypes (migrations: readonly LocalMigration[], upTo?: string): Map<string, string> {
  const types = new Map<string, string>()
  for (const migration of migrations) {
    if (upTo !== undefined && migration.name > upTo) break
    for (const statement of migration.sql.replace(/^\s*--.*$/gm, '').split(/;\s*$/m)) {
      const create = statement.match(/CREATE TABLE\s+`(\w+)`\s*\(([\s\S]*)\)/i)
      if (create) {
        for (const line of create[2].split('\n')) {
          const m = line.match(/^\s*`(\w+)`\s+([A-Za-z]+(?:\(\d+(?:,\s*\d+)?\))?)/)
          if (m) types.set(`${create[1]}.${m[1]}`, m[2].toUpperCase())
        }
        continue
      }
      const alter = statement.match(/ALTER TABLE\s+`(\w+)`([\s\S]*)/i)
      if (alter) {
        for (const m of alter[2].matchAll(/(?:ADD(?:\s+COLUMN)?|MODIFY(?:\s+COLUMN)?|CHANGE(?:\s+COLUMN)?\s+`\w+`)\s+`(\w+)`\s+([A-Za-z]+(?:\(\d+(?:,\s*\d+)?\))?)/gi)) {
          types.set(`${alter[1]}.${m[1]}`, m[2].toUpperCase())
        }
      }
    }
  }
  return types
}

export const mysql: ServerEngine<'mysql'> = {
  id: 'mysql',
  kind: 'server',
  labelKey: 'setup.database.providers.mysql',
  defaultPort: 3306,
  protocols: PROTOCOLS,
  minimumVersions: MINIMUM_VERSIONS,
  parseUrl: (_url, base) => ({ provider: 'mysql', ...base }),
  // Prisma's `sslaccept` (accept_invalid_certs | strict) and `sslcert` (the CA), no parameter when off.
  urlParams (c) {
    const params = new URLSearchParams()
    if (c.tls !== 'off') params.set('sslaccept', c.tls === 'verify' ? 'strict' : 'accept_invalid_certs')
    if (c.tls === 'verify' && c.caFile !== '') params.set('sslcert', c.caFile)
    return params
  },
  parseVersion,
  probe: probeMysql,
  createDatabase,
  classifyError: classifyMysqlError,
  async preload (schema) {
    await Promise.all([schema.client('mysql'), import('@prisma/adapter-mariadb')])
  },
  async createClient (schema, url) {
    const [PrismaClient, { PrismaMariaDb }] = await Promise.all([schema.client('mysql'), import('@prisma/adapter-mariadb')])
    const connection = parseUrl(url)
    return new PrismaClient({ adapter: new PrismaMariaDb({ ...mariadbConfig(connection), connectionLimit: 10 }, { database: connection.database }) })
  },
  migration: {
    // As Prisma's schema engine creates it (flavour/mysql.rs).
    tableDdl: `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             DATETIME(3),
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          DATETIME(3),
    started_at              DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    applied_steps_count     INTEGER UNSIGNED NOT NULL DEFAULT 0
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
`,
    open: url => openMigrationDriver(url),
    exists: () => true
  },
  backup: {
    open: openBackup,
    batchSize: 1000,
    limits (tables, migrations, upTo) {
      const limits = new Map<string, ColumnLimit>()
      const declared = mysqlDeclaredTypes(migrations ?? [], upTo)
      for (const table of tables) {
        for (const column of table.columns) {
          const limit: ColumnLimit = {}
          if (column.type === 'String') {
            const type = declared.get(`${table.name}.${column.name}`) ?? `VARCHAR(${MYSQL_DEFAULT_VARCHAR})`
            const chars = type.match(/^(?:VAR)?CHAR\((\d+)\)/)
            if (chars) limit.maxChars = Number(chars[1])
            else if (MYSQL_TEXT_BYTES[type.replace(/\W.*$/, '')]) limit.maxBytes = MYSQL_TEXT_BYTES[type.replace(/\W.*$/, '')]
            // utf8mb4_unicode_ci compares unique strings case- and accent-insensitively.
            limit.foldCase = true
          }
          if (column.type === 'DateTime') { limit.minYear = 1000; limit.maxYear = 9999 }
          if (column.type === 'Float') limit.finiteFloat = true
          // Prisma's default Decimal is DECIMAL(65,30).
          if (column.type === 'Decimal') limit.decimal = { integer: 35, fraction: 30 }
          if (Object.keys(limit).length > 0) limits.set(`${table.name}.${column.name}`, limit)
        }
      }
      return limits
    }
  }
}

export { classifyMysqlError, mariadbConfig }
