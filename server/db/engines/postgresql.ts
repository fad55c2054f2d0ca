// PostgreSQL (pg, @prisma/adapter-pg). Everything Amorce knows about the engine: its URL (libpq's `sslmode`,
// Prisma's `schema`), the connection test and its causes, the client adapter, the migration driver (Prisma's
// advisory lock) and the backup driver (COPY). The contract is engine.ts.
import type { Client as PgClient, ClientConfig } from 'pg'
import type { Value } from '../../backup/codec.ts'
import { keyOrder, parseUtc, type BackupConnection } from '../../backup/connection.ts'
import type { ColumnLimit, ColumnType } from '../../backup/schema.ts'
import { MigrationError, MIGRATIONS_TABLE, type MigrationDriver, type Row } from '../migrations.ts'
import { CONNECT_TIMEOUT_MS, readServerUrl, tlsOptions, type ServerConnection } from '../url.ts'
import type { ProbeCause, ProbeFailure, ProbeOptions, ProbeResult, ServerEngine } from './engine.ts'
import { bounded, classifyContents, errorFields, failure, networkCause, olderThan, privilegeChecks, runChecks, versionParts } from './support.ts'

/** The oldest release line still maintained upstream at the start of 2025 (docs/databases.md). */
const MINIMUM_VERSIONS = { PostgreSQL: [13, 0] } as const

/** Prisma's advisory lock key for Migrate on PostgreSQL: holding it keeps `prisma migrate` and us from overlapping. */
export const PRISMA_ADVISORY_LOCK_KEY = 72707369

const PROTOCOLS = ['postgresql:', 'postgres:'] as const

/** This engine's settings from a `postgresql://` URL (another engine's URL is refused). */
function parseUrl (text: string): ServerConnection {
  return readServerUrl(text, protocol => (PROTOCOLS as readonly string[]).includes(protocol) ? postgresql : undefined)
}

function pgConfig (c: ServerConnection, options: { database?: string, connectTimeoutMs?: number } = {}): ClientConfig {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: options.database ?? c.database,
    ssl: tlsOptions(c),
    connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    application_name: 'amorce'
  }
}

// ---------------------------------------------------------------------------------------------
// Connection test

function classifyPgError (error: unknown): ProbeCause {
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

function parseVersion (text: string): { server: string, version: string, parts: number[] } {
  return { server: 'PostgreSQL', ...versionParts(text) }
}

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

async function probePostgres (c: ServerConnection, options: ProbeOptions & { timeoutMs: number }): Promise<ProbeResult> {
  const { timeoutMs } = options
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
    const parsed = parseVersion(String(versionRow.server_version))
    const minimum = olderThan(MINIMUM_VERSIONS.PostgreSQL, parsed.parts)
    if (minimum) return failure('versionTooOld', undefined, { version: parsed.version, minimum })
    const schema = c.schema ?? 'public'
    const { rows: schemaRows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    const tables = schemaRows.length === 0
      ? []
      : (await client.query('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema])).rows.map(r => String(r.tablename))
    const contents = await classifyContents('postgresql', options, tables, async () =>
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

async function createDatabase (c: ServerConnection, timeoutMs: number): Promise<ProbeFailure | null> {
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

// ---------------------------------------------------------------------------------------------
// Migration driver

/** pg settings for a Prisma-style PostgreSQL URL; `schema` selects the search path. TLS modes as in url.ts. */
function postgresConnection (url: string): { config: ClientConfig; schema: string } {
  let connection: ServerConnection
  try {
    connection = parseUrl(url)
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

async function openMigrationDriver (url: string): Promise<MigrationDriver> {
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

// ---------------------------------------------------------------------------------------------
// Backup driver

async function openBackup (url: string): Promise<BackupConnection> {
  const connection = parseUrl(url)
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

/** PostgreSQL's B-tree entries are at most 2704 bytes (a third of a page, minus headers): below, to be safe. */
const PG_INDEX_BYTES = 2700

export const postgresql: ServerEngine<'postgresql'> = {
  id: 'postgresql',
  kind: 'server',
  labelKey: 'setup.database.providers.postgresql',
  defaultPort: 5432,
  protocols: PROTOCOLS,
  minimumVersions: MINIMUM_VERSIONS,
  parseUrl (url, base) {
    const connection: ServerConnection = { provider: 'postgresql', ...base }
    const schema = url.searchParams.get('schema')
    if (schema && schema !== 'public') connection.schema = schema
    return connection
  },
  // libpq's `sslmode` (disable | require | verify-full) and `sslrootcert`, which Prisma reads too.
  urlParams (c) {
    const params = new URLSearchParams()
    if (c.schema && c.schema !== 'public') params.set('schema', c.schema)
    params.set('sslmode', { off: 'disable', required: 'require', verify: 'verify-full' }[c.tls])
    if (c.tls === 'verify' && c.caFile !== '') params.set('sslrootcert', c.caFile)
    return params
  },
  parseVersion,
  probe: probePostgres,
  createDatabase,
  classifyError: classifyPgError,
  async preload (schema) {
    await Promise.all([schema.client('postgresql'), import('@prisma/adapter-pg')])
  },
  async createClient (schema, url) {
    const [PrismaClient, { PrismaPg }] = await Promise.all([schema.client('postgresql'), import('@prisma/adapter-pg')])
    // The URL is translated here, not handed to pg: pg reads `sslmode=require` as verify-full.
    const connection = parseUrl(url)
    return new PrismaClient({ adapter: new PrismaPg(pgConfig(connection), connection.schema ? { schema: connection.schema } : undefined) })
  },
  migration: {
    // As Prisma's schema engine creates it (flavour/postgres.rs); byte-for-byte that of @prisma/schema-engine-wasm.
    tableDdl: `CREATE TABLE _prisma_migrations (
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
    open: url => openMigrationDriver(url),
    exists: () => true
  },
  backup: {
    open: openBackup,
    batchSize: 5000,
    limits (tables) {
      const limits = new Map<string, ColumnLimit>()
      for (const table of tables) {
        const indexedColumns = new Set((table.indexed ?? table.uniques ?? [table.key]).flat())
        for (const column of table.columns) {
          const limit: ColumnLimit = {}
          if (column.type === 'String' || column.type === 'Json') limit.noNul = true
          if (column.type === 'String' && indexedColumns.has(column.name)) limit.maxBytes = PG_INDEX_BYTES
          if (column.type === 'DateTime') { limit.minYear = 1; limit.maxYear = 9999 }
          // Prisma's default Decimal is DECIMAL(65,30).
          if (column.type === 'Decimal') limit.decimal = { integer: 35, fraction: 30 }
          if (Object.keys(limit).length > 0) limits.set(`${table.name}.${column.name}`, limit)
        }
      }
      return limits
    }
  }
}

export { classifyPgError, pgConfig }
