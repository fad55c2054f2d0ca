// The database server test behind the wizard's "Test connection": connects within a bounded time, names the
// cause of any failure (DNS, refused, timeout, TLS, auth, missing database, privileges, version), says what the
// database already holds, and creates a missing database when asked. Testable without HTTP.
import { randomBytes, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import type { Client as PgClient } from 'pg'
import type { Connection as MariaConnection } from 'mariadb'
import { listLocalMigrations, MIGRATIONS_TABLE } from './migrate.ts'
import { sniffService, type Service } from './sniff.ts'
import { CONNECT_TIMEOUT_MS, mariadbConfig, pgConfig, type ServerConnection } from './url.ts'
import { fromPackageRoot } from '../paths.ts'

export type ProbeCause =
  | 'dns' | 'refused' | 'unreachable' | 'timeout'
  | 'tlsRequired' | 'tlsUnsupported' | 'tlsInvalid' | 'caFile'
  | 'hostDenied' | 'authFailed' | 'databaseMissing' | 'databaseDenied' | 'privileges' | 'versionTooOld'
  | 'tableConflict' | 'otherPrismaApp' | 'newerApp' | 'unknown'
  | 'otherService' | 'caNotCertificate'

export interface ProbeFailure {
  ok: false
  cause: ProbeCause
  /** databaseMissing: whether this account may create it (the wizard then offers "Create it"). */
  canCreate?: boolean
  /** privileges: what the account could not do; `untested` when CREATE failed and nothing else could be tried. */
  missing?: string[]
  untested?: boolean
  /** versionTooOld */
  version?: string
  minimum?: string
  /** tableConflict / otherPrismaApp / newerApp: the tables or migrations concerned */
  names?: string[]
  /** The driver's message, for logs only: it may name the host or the user, never the password. */
  detail?: string
  /** otherService: the protocol that answered instead (see sniff.ts) */
  service?: Service
}

export interface ProbeSuccess {
  ok: true
  /** empty: nothing there; ours: this app, `applied` migrations done and `pending` to apply; otherTables: needs confirmation. */
  state: 'empty' | 'ours' | 'otherTables'
  server: 'PostgreSQL' | 'MySQL' | 'MariaDB'
  version: string
  applied: number
  pending: number
  /** otherTables: the first few table names */
  tables: string[]
}

export type ProbeResult = ProbeFailure | ProbeSuccess

/**
 * The oldest server versions accepted (docs/databases.md): the oldest release lines still maintained upstream
 * at the start of 2025, when this generation of Prisma (7) and of Amorce began.
 */
export const MINIMUM_VERSIONS = { PostgreSQL: [13, 0], MySQL: [8, 0], MariaDB: [10, 5] } as const

export interface ProbeOptions {
  /** Connect timeout; the whole test is bounded by about twice this. */
  timeoutMs?: number
}

// ---------------------------------------------------------------------------------------------
// Classification of driver errors

const TLS_CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE', 'CERT_REJECTED', 'INVALID_CA', 'HOSTNAME_MISMATCH'
])

function errorFields (error: unknown): { code: string, errno?: number, message: string } {
  const e = (error ?? {}) as { code?: unknown, errno?: unknown, message?: unknown, cause?: unknown }
  const cause = (e.cause ?? {}) as { code?: unknown }
  const code = typeof e.code === 'string' ? e.code : typeof cause.code === 'string' ? cause.code : ''
  return { code, errno: typeof e.errno === 'number' ? e.errno : undefined, message: typeof e.message === 'string' ? e.message : String(error) }
}

/** Network and TLS causes, the same whichever driver met them. */
function networkCause (code: string, message: string): ProbeCause | undefined {
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || /getaddrinfo/.test(message)) return 'dns'
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return 'unreachable'
  if (code === 'ETIMEDOUT' || code === 'ER_CONNECTION_TIMEOUT' || code === 'ER_SOCKET_TIMEOUT' || /timeout|timed out/i.test(message)) return 'timeout'
  if (TLS_CERT_CODES.has(code) || /certificate|self[- ]signed/i.test(message)) return 'tlsInvalid'
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return 'caFile'
  return undefined
}

export function classifyPgError (error: unknown): ProbeCause {
  const { code, message } = errorFields(error)
  if (/does not support SSL/i.test(message)) return 'tlsUnsupported'
  // No pg_hba.conf line admits this client (host, user, database, encryption): probePostgres retries over TLS
  // to tell "TLS required" ("hostssl" lines only) from "this host is not allowed".
  if (/no pg_hba\.conf entry/i.test(message)) return 'hostDenied'
  if (/SSL (connection is )?required/i.test(message)) return 'tlsRequired'
  const network = networkCause(code, message)
  if (network) return network
  if (code === '28P01' || code === '28000') return 'authFailed'
  if (code === '3D000') return 'databaseMissing'
  if (code === '42501') return 'databaseDenied'
  if (/Connection terminated unexpectedly/i.test(message)) return 'timeout'
  return 'unknown'
}

export function classifyMysqlError (error: unknown): ProbeCause {
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

function failure (cause: ProbeCause, error?: unknown, extra: Partial<ProbeFailure> = {}): ProbeFailure {
  return { ok: false, cause, ...(error === undefined ? {} : { detail: errorFields(error).message }), ...extra }
}

/** Rejects after `ms`, running `onTimeout` (which closes the connection), so nothing outlives the test. */
async function bounded<T> (ms: number, work: Promise<T>, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { onTimeout(); reject(Object.assign(new Error('the test took too long'), { code: 'ETIMEDOUT' })) }, ms)
  })
  try {
    return await Promise.race([work, limit])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// Versions

export function parseServerVersion (text: string, provider: ServerConnection['provider']): { server: ProbeSuccess['server'], version: string, parts: number[] } {
  const server = provider === 'postgresql' ? 'PostgreSQL' : /mariadb/i.test(text) ? 'MariaDB' : 'MySQL'
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.replace(/^5\.5\.5-/, '')) // MariaDB once prefixed 5.5.5- for old clients
  const parts = match ? match.slice(1).filter(Boolean).map(Number) : []
  return { server, version: match ? match[0] : text, parts }
}

export function versionTooOld (server: ProbeSuccess['server'], parts: number[]): string | undefined {
  const minimum = MINIMUM_VERSIONS[server]
  for (let i = 0; i < minimum.length; i++) {
    const have = parts[i] ?? 0
    if (have > minimum[i]) return undefined
    if (have < minimum[i]) return minimum.join('.')
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// What the database holds

const modelsFile = fromPackageRoot('prisma', 'models.prisma')
let modelTables: string[] | undefined

/** The tables this app's models create (their names must not be taken by another application's tables). */
export function appTableNames (): string[] {
  modelTables ??= [...readFileSync(modelsFile, 'utf8').matchAll(/^model\s+(\w+)/gm)].map(m => m[1])
  return modelTables
}

const PROBE_PREFIX = '_amorce_probe_'

async function classifyContents (provider: ServerConnection['provider'], tables: string[], migrationNames: () => Promise<string[]>): Promise<ProbeFailure | Pick<ProbeSuccess, 'state' | 'applied' | 'pending' | 'tables'>> {
  const visible = tables.filter(name => !name.startsWith(PROBE_PREFIX))
  if (visible.includes(MIGRATIONS_TABLE)) {
    const local = (await listLocalMigrations(provider)).map(m => m.name)
    const recorded = await migrationNames()
    const ours = recorded.filter(name => local.includes(name))
    if (recorded.length > 0 && ours.length === 0) return failure('otherPrismaApp', undefined, { names: recorded.slice(0, 5) })
    const newer = recorded.filter(name => !local.includes(name))
    if (newer.length > 0) return failure('newerApp', undefined, { names: newer.slice(0, 5) })
    return { state: 'ours', applied: ours.length, pending: local.length - ours.length, tables: [] }
  }
  if (visible.length === 0) return { state: 'empty', applied: 0, pending: 0, tables: [] }
  const lower = new Set(visible.map(name => name.toLowerCase()))
  const conflicts = appTableNames().filter(name => lower.has(name.toLowerCase()))
  if (conflicts.length > 0) return failure('tableConflict', undefined, { names: conflicts })
  return { state: 'otherTables', applied: 0, pending: 0, tables: visible.slice(0, 5) }
}

// ---------------------------------------------------------------------------------------------
// Privileges: really create, alter, index, reference, write and drop throwaway tables

interface Check { privilege: string, run: () => Promise<unknown> }

async function runChecks (checks: Check[], onFirstFailure: 'stop' | 'continue' = 'continue'): Promise<{ missing: string[], untested: boolean }> {
  const missing: string[] = []
  for (const [index, check] of checks.entries()) {
    try {
      await check.run()
    } catch {
      missing.push(check.privilege)
      if (index === 0 && onFirstFailure === 'stop') return { missing, untested: checks.length > 1 }
    }
  }
  return { missing, untested: false }
}

function privilegeChecks (q: (sql: string) => Promise<unknown>, quote: (name: string) => string, around?: (privilege: string, sql: string) => string): Check[] {
  const suffix = randomBytes(4).toString('hex')
  const parent = quote(`${PROBE_PREFIX}${suffix}`)
  const child = quote(`${PROBE_PREFIX}${suffix}_ref`)
  const index = quote(`${PROBE_PREFIX}${suffix}_idx`)
  const wrap = around ?? ((_p: string, sql: string) => sql)
  const check = (privilege: string, sql: string): Check => ({ privilege, run: () => q(wrap(privilege, sql)) })
  return [
    check('CREATE', `CREATE TABLE ${parent} (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)`),
    check('ALTER', `ALTER TABLE ${parent} ADD COLUMN note VARCHAR(20) NULL`),
    check('INDEX', `CREATE INDEX ${index} ON ${parent} (name)`),
    check('REFERENCES', `CREATE TABLE ${child} (id INTEGER NOT NULL PRIMARY KEY, parent_id INTEGER NULL, FOREIGN KEY (parent_id) REFERENCES ${parent} (id))`),
    check('INSERT', `INSERT INTO ${parent} (id, name) VALUES (1, 'probe')`),
    check('SELECT', `SELECT id, name FROM ${parent}`),
    check('UPDATE', `UPDATE ${parent} SET name = 'probed' WHERE id = 1`),
    check('DELETE', `DELETE FROM ${parent} WHERE id = 1`),
    check('DROP', `DROP TABLE IF EXISTS ${child}, ${parent}`)
  ]
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function pgConnect (c: ServerConnection, timeoutMs: number, database?: string): Promise<PgClient> {
  const { default: pg } = await import('pg')
  const client = new pg.Client(pgConfig(c, { database, connectTimeoutMs: timeoutMs }))
  // A server that drops us later must not crash the process with an unhandled 'error'.
  client.on('error', () => {})
  try {
    await bounded(timeoutMs + 500, client.connect(), () => { void client.end().catch(() => {}) })
  } catch (error) {
    await client.end().catch(() => {})
    throw error
  }
  return client
}

const pgQuote = (name: string) => `"${name.replaceAll('"', '""')}"`

async function pgCanCreateDatabase (c: ServerConnection, timeoutMs: number): Promise<boolean> {
  for (const maintenance of ['postgres', 'template1']) {
    let client: PgClient | undefined
    try {
      client = await pgConnect(c, timeoutMs, maintenance)
      const { rows } = await client.query('SELECT rolcreatedb OR rolsuper AS may FROM pg_roles WHERE rolname = current_user')
      return rows[0]?.may === true
    } catch {
      // try the next maintenance database
    } finally {
      await client?.end().catch(() => {})
    }
  }
  return false
}

async function probePostgres (c: ServerConnection, timeoutMs: number): Promise<ProbeResult> {
  let client: PgClient
  try {
    client = await pgConnect(c, timeoutMs)
  } catch (error) {
    const cause = classifyPgError(error)
    if (cause === 'databaseMissing') return failure(cause, error, { canCreate: await pgCanCreateDatabase(c, timeoutMs) })
    if (cause === 'hostDenied' && c.tls === 'off') {
      // Over TLS, does pg_hba.conf let us further? Then TLS is what the server requires.
      try {
        await (await pgConnect({ ...c, tls: 'required' }, timeoutMs)).end()
        return failure('tlsRequired', error)
      } catch (tlsError) {
        if (classifyPgError(tlsError) !== 'hostDenied' && classifyPgError(tlsError) !== 'tlsUnsupported') return failure('tlsRequired', error)
      }
    }
    return failure(cause, error)
  }
  try {
    // Bounded statements: a lock held elsewhere must not hang the wizard.
    await client.query(`SET statement_timeout = ${timeoutMs}`)
    const { rows: [versionRow] } = await client.query('SHOW server_version')
    const parsed = parseServerVersion(String(versionRow.server_version), 'postgresql')
    const minimum = versionTooOld('PostgreSQL', parsed.parts)
    if (minimum) return failure('versionTooOld', undefined, { version: parsed.version, minimum })
    const schema = c.schema ?? 'public'
    const { rows: schemaRows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    const tables = schemaRows.length === 0
      ? []
      : (await client.query('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema])).rows.map(r => String(r.tablename))
    const contents = await classifyContents('postgresql', tables, async () =>
      (await client.query(`SELECT migration_name FROM ${pgQuote(schema)}.${pgQuote(MIGRATIONS_TABLE)} WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL`)).rows.map(r => String(r.migration_name)))
    if ('cause' in contents) return contents

    // In one transaction rolled back at the end: nothing is left behind, whatever fails. Each check has its savepoint.
    await client.query('BEGIN')
    let result: { missing: string[], untested: boolean }
    try {
      const preamble = schemaRows.length === 0 ? [{ privilege: 'CREATE', run: () => client.query(`CREATE SCHEMA ${pgQuote(schema)}`) }] : []
      await client.query(`SET LOCAL search_path TO ${pgQuote(schema)}`)
      const checks = [...preamble, ...privilegeChecks(sql => client.query(sql), pgQuote)].map(check => ({
        privilege: check.privilege,
        run: async () => {
          await client.query('SAVEPOINT probe')
          try {
            await check.run()
            await client.query('RELEASE SAVEPOINT probe')
          } catch (error) {
            await client.query('ROLLBACK TO SAVEPOINT probe')
            throw error
          }
        }
      }))
      result = await runChecks(checks, 'stop')
    } finally {
      await client.query('ROLLBACK').catch(() => {})
    }
    if (result.missing.length > 0) return failure('privileges', undefined, { missing: [...new Set(result.missing)], untested: result.untested })
    return { ok: true, server: 'PostgreSQL', version: parsed.version, ...contents }
  } finally {
    await client.end().catch(() => {})
  }
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB

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

async function probeMysql (c: ServerConnection, timeoutMs: number): Promise<ProbeResult> {
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
    const parsed = parseServerVersion(String(v), 'mysql')
    const minimum = versionTooOld(parsed.server, parsed.parts)
    if (minimum) return failure('versionTooOld', undefined, { version: parsed.version, minimum })
    const tables = (await conn.query("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'") as Array<{ name: string }>).map(r => String(r.name))
    const contents = await classifyContents('mysql', tables, async () =>
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

// ---------------------------------------------------------------------------------------------
// Before the driver: the CA file, and what answers at the address

/** A PEM file this large is not a CA bundle (and /dev/zero must not be read to the end). */
const MAX_CA_FILE = 1024 * 1024

/** With tls `verify` and a CA file: it must hold at least one PEM certificate (Node would ignore anything else). */
export async function caFileFailure (c: ServerConnection): Promise<ProbeFailure | undefined> {
  if (c.tls !== 'verify' || c.caFile === '') return undefined
  let text: string
  try {
    const fh = await open(c.caFile, 'r')
    try {
      const st = await fh.stat()
      if (!st.isFile()) return failure('caNotCertificate', undefined, { detail: 'not a regular file' })
      if (st.size > MAX_CA_FILE) return failure('caNotCertificate', undefined, { detail: `${st.size} bytes` })
      text = await fh.readFile('utf8')
    } finally {
      await fh.close()
    }
  } catch (error) {
    return failure(errorFields(error).code === 'EISDIR' ? 'caNotCertificate' : 'caFile', error)
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) return failure('caNotCertificate', undefined, { detail: 'no PEM certificate' })
  try {
    for (const block of blocks) new X509Certificate(block) // eslint-disable-line no-new
  } catch (error) {
    return failure('caNotCertificate', error)
  }
  return undefined
}

/**
 * Whether another protocol than the engine's answers at the address: then no driver is pointed at it.
 * Returns the time left for the driver: a silent listener has used part of the test's bound already.
 */
async function otherServiceFailure (c: ServerConnection, timeoutMs: number): Promise<{ failure?: ProbeFailure, timeoutMs: number }> {
  const started = performance.now()
  const found = await sniffService(c.host, c.port, { connectTimeoutMs: timeoutMs, answerMs: Math.min(1500, timeoutMs / 2) })
  if (found === 'silent') return { timeoutMs: Math.max(500, Math.round(timeoutMs - (performance.now() - started))) }
  if (found === 'unreachable' || found === c.provider) return { timeoutMs }
  return { failure: failure('otherService', undefined, { service: found, detail: `${found} answered at ${c.host}:${c.port}` }), timeoutMs }
}

async function beforeDriver (c: ServerConnection, timeoutMs: number): Promise<{ failure?: ProbeFailure, timeoutMs: number }> {
  const ca = await caFileFailure(c)
  if (ca) return { failure: ca, timeoutMs }
  return otherServiceFailure(c, timeoutMs)
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Tests the connection and the database. Never throws: every outcome is a result. */
export async function probeDatabase (c: ServerConnection, options: ProbeOptions = {}): Promise<ProbeResult> {
  const bound = options.timeoutMs ?? CONNECT_TIMEOUT_MS
  try {
    const { failure: early, timeoutMs } = await beforeDriver(c, bound)
    if (early) return early
    return c.provider === 'postgresql' ? await probePostgres(c, timeoutMs) : await probeMysql(c, timeoutMs)
  } catch (error) {
    const cause = c.provider === 'postgresql' ? classifyPgError(error) : classifyMysqlError(error)
    return failure(cause, error)
  }
}

/** Database names the wizard accepts: letters, digits, `_`, `-`, `$`, at most 63 characters (PostgreSQL's limit). */
export function validDatabaseName (name: string): boolean {
  return /^[\p{L}\p{N}_$-]{1,63}$/u.test(name)
}

/** Creates the database (UTF-8; utf8mb4_unicode_ci on MySQL, as Prisma's migrations expect). Returns a failure or null. */
export async function createServerDatabase (c: ServerConnection, options: ProbeOptions = {}): Promise<ProbeFailure | null> {
  const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS
  if (!validDatabaseName(c.database)) return failure('unknown', undefined, { detail: 'invalid database name' })
  const { failure: early } = await beforeDriver(c, timeoutMs)
  if (early) return early
  if (c.provider === 'postgresql') {
    let lastError: unknown
    for (const maintenance of ['postgres', 'template1']) {
      let client: PgClient | undefined
      try {
        client = await pgConnect(c, timeoutMs, maintenance)
        await client.query(`CREATE DATABASE ${pgQuote(c.database)} ENCODING 'UTF8' TEMPLATE template0`)
        return null
      } catch (error) {
        lastError = error
        // 42P04: it exists already (created meanwhile): fine.
        if (errorFields(error).code === '42P04') return null
        if (client) break
      } finally {
        await client?.end().catch(() => {})
      }
    }
    const cause = classifyPgError(lastError)
    return failure(cause === 'databaseDenied' || cause === 'unknown' ? 'privileges' : cause, lastError, { missing: ['CREATE DATABASE'] })
  }
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
