// Step 3: where the app keeps its data: SQLite (a file), PostgreSQL or MySQL/MariaDB (a server). The choice is
// tested before it is accepted; a server test names the cause of any failure (server/db/probe.ts).
import path from 'node:path'
import { buildDatabaseUrl, DEFAULT_PORTS, parseDatabaseUrl, PROVIDERS, SERVER_PROVIDERS } from '../../db/engines/index.ts'
import { probeSqliteFile, type SqliteProbeResult } from '../../db/engines/sqlite.ts'
import { createServerDatabase, probeDatabase, validDatabaseName, type ProbeResult } from '../../db/probe.ts'
import { DatabaseUrlError, TLS_MODES, type ServerConnection, type ServerProvider, type TlsMode } from '../../db/url.ts'
import { CONTROL_CHARACTERS, envStorable } from '../paths.ts'
import { defineStep, type ActionOutcome, type Errors, type Input, type StepContext, type StepView } from '../step.ts'
import { migrate, MigrationError, sqliteFilePath } from '../../db/migrate.ts'
import { migrationLimit } from '../../backup/install.ts'
import { testKill } from '../test-hooks.ts'
import { isDryRun, leavingNoNewDirs } from '../dry-run.ts'

export { PROVIDERS }
export const INSTANCES = ['single', 'multiple'] as const

export interface SqliteAnswer { provider: 'sqlite', file: string, url: string, multipleInstances: boolean }
export interface ServerAnswer extends ServerConnection {
  provider: ServerProvider
  url: string
  multipleInstances: boolean
  /** The user confirmed installing beside another application's tables (the runner then accepts them). */
  allowOtherTables: boolean
  /** A dry run only: the database does not exist, and "Create it" said Install would create it (it was not created). */
  create?: boolean
}
export type DatabaseAnswer = SqliteAnswer | ServerAnswer

const SERVER_FIELDS = ['url', 'host', 'port', 'user', 'database', 'tls', 'caFile'] as const

function isServer (provider: string | undefined): provider is ServerProvider {
  return (SERVER_PROVIDERS as readonly string[]).includes(provider ?? '')
}

function defaultFile (ctx: StepContext): string {
  return path.join(ctx.config.dataDir, 'app.db')
}

// ---------------------------------------------------------------------------------------------
// SQLite

function sqliteOutcome (result: SqliteProbeResult, t: StepContext['t']): ActionOutcome {
  if (!result.ok) {
    // A system error code is shown as words in the reader's language, never as "(EEXIST)".
    const detail = result.detail ?? ''
    return { errors: { file: { key: `setup.database.errors.${result.reason}`, params: { file: result.file, detail } } } }
  }
  return { view: { test: { ok: true, key: `setup.database.testResult.${result.state}`, params: { file: result.file, count: result.migrations ?? 0 } } } }
}

/**
 * Checks a path typed in the wizard, before it is tested: `?`, `#` and `%` would be read by the SQLite
 * driver as URL syntax (options, a fragment, escapes) and open another file than the one tested; and the
 * value must survive the `.env` writer exactly (the same rules as at install).
 */
export function sqlitePathError (file: string): string | undefined {
  if (/[?#%]/.test(file)) return 'fileUrlCharacters'
  if (CONTROL_CHARACTERS.test(file)) return 'fileControlCharacters'
  if (!envStorable(`file:${file}`, 'DATABASE_URL')) return 'fileNotStorable'
  return undefined
}

async function testSqlite (input: Input, ctx: StepContext): Promise<ActionOutcome & { file?: string }> {
  const raw = (input.file ?? '').trim()
  if (raw === '') return { errors: { file: { key: 'setup.database.errors.fileRequired' } } }
  if (raw.length > 1024 || raw.includes('\0')) return { errors: { file: { key: 'setup.database.errors.fileInvalid' } } }
  const file = path.resolve(raw)
  const invalid = sqlitePathError(file)
  if (invalid) return { errors: { file: { key: `setup.database.errors.${invalid}`, params: { file } } } }
  // A dry run's test leaves no directory behind it (the probe makes the file's directory, as Install would).
  const probe = () => probeSqliteFile(file, { schema: ctx.definition.schema })
  const result = isDryRun(ctx.data) ? await leavingNoNewDirs(path.dirname(file), probe) : await probe()
  return { ...sqliteOutcome(result, ctx.t), file }
}

// ---------------------------------------------------------------------------------------------
// Servers: the form (or a pasted URL) → connection settings

/** Whose password it is: another engine, server or user never inherits a password kept for this one. */
function accountKey (c: Pick<ServerConnection, 'provider' | 'host' | 'port' | 'user'>): string {
  return JSON.stringify([c.provider, c.host.replace(/^\[(.*)\]$/, '$1').toLowerCase(), c.port, c.user])
}

/** Remembers a password for this account (kept server-side, never rendered). */
function keepPassword (ctx: StepContext, account: string, password: string): void {
  ctx.data.kept.database = { password, for: account }
}

/**
 * The password to use: the one typed now, else the one kept from an earlier submission of this step or from
 * the accepted answer, but only for the same account: switching to another user or host starts with none.
 */
function passwordFor (input: Input, ctx: StepContext, account: string): string {
  if ((input.password ?? '') !== '') {
    keepPassword(ctx, account, input.password)
    return input.password
  }
  return keptPassword(ctx, account) ?? ''
}

function keptPassword (ctx: StepContext, account: string): string | undefined {
  const kept = ctx.data.kept.database
  if (kept?.password !== undefined && kept.for === account) return kept.password
  const answer = ctx.data.answers.database
  if (answer && answer.provider !== 'sqlite' && answer.password !== '' && accountKey(answer) === account) return answer.password
  return undefined
}

/** A pasted URL as it may be shown again or kept in a draft: without its password. */
export function urlWithoutPassword (text: string): string {
  try {
    const url = new URL(text.trim())
    if (url.password === '') return text
    url.password = ''
    return url.toString()
  } catch {
    // Not a URL we read: whatever sits between `//` and the last `@` may be credentials.
    return text.replace(/\/\/.*@/, '//')
  }
}

/** Host names (underscores too: Docker service names have them) or IP addresses, IPv6 with or without brackets. */
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$|^\[?[0-9A-Fa-f:.]+\]?$/

/** Settings from the fields, or from a pasted URL (which then fills the fields: `fill`). */
function connectionFrom (input: Input, ctx: StepContext): { connection?: ServerConnection, fill?: Input, errors?: Errors } {
  const pasted = (input.url ?? '').trim()
  if (pasted !== '') {
    try {
      const connection = parseDatabaseUrl(pasted)
      if (connection.password === '') connection.password = passwordFor(input, ctx, accountKey(connection))
      else keepPassword(ctx, accountKey(connection), connection.password)
      if (!validDatabaseName(connection.database)) return { errors: { url: { key: 'setup.database.errors.databaseInvalid' } } }
      const fill: Input = {
        provider: connection.provider,
        host: connection.host,
        port: String(connection.port),
        user: connection.user,
        database: connection.database,
        tls: connection.tls,
        caFile: connection.caFile,
        url: ''
      }
      return { connection, fill }
    } catch (error) {
      const code = error instanceof DatabaseUrlError ? error.code : 'urlInvalid'
      return { errors: { url: { key: `setup.database.errors.${code}` } } }
    }
  }
  const provider = input.provider as ServerProvider
  const errors: Errors = {}
  const host = (input.host ?? '').trim()
  if (host === '') errors.host = { key: 'setup.database.errors.hostRequired' }
  else if (host.length > 253 || !HOST.test(host)) errors.host = { key: 'setup.database.errors.hostInvalid' }
  const portText = (input.port ?? '').trim()
  const port = portText === '' ? DEFAULT_PORTS[provider] : Number(portText)
  if (!/^\d{0,5}$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) errors.port = { key: 'setup.database.errors.portInvalid' }
  const user = (input.user ?? '').trim()
  if (user === '') errors.user = { key: 'setup.database.errors.userRequired' }
  else if (user.length > 128) errors.user = { key: 'setup.database.errors.userInvalid' }
  const database = (input.database ?? '').trim()
  if (database === '') errors.database = { key: 'setup.database.errors.databaseRequired' }
  else if (!validDatabaseName(database)) errors.database = { key: 'setup.database.errors.databaseInvalid' }
  const tls = (input.tls ?? 'off') as TlsMode
  if (!TLS_MODES.includes(tls)) errors.tls = { key: 'setup.database.errors.tlsInvalid' }
  const caRaw = (input.caFile ?? '').trim()
  if (tls === 'verify' && caRaw !== '' && (caRaw.length > 1024 || caRaw.includes('\0'))) errors.caFile = { key: 'setup.database.errors.fileInvalid' }
  if (Object.keys(errors).length > 0) return { errors }
  const password = passwordFor(input, ctx, accountKey({ provider, host, port, user }))
  return { connection: { provider, host: host.replace(/^\[(.*)\]$/, '$1'), port, user, password, database, tls, caFile: tls === 'verify' && caRaw !== '' ? path.resolve(caRaw) : '' } }
}

/** A probe result as the page shows it: success in `view.test`, a failure as the `connection` error. */
function serverOutcome (result: ProbeResult, c: ServerConnection, fill: Input | undefined, t: StepContext['t']): ActionOutcome {
  const params = { host: c.host, port: c.port, user: c.user, database: c.database }
  const view: StepView = fill ? { fill } : {}
  if (!result.ok) {
    const cause = result.cause
    return {
      errors: {
        connection: {
          key: `setup.database.causes.${cause}`,
          params: {
            ...params,
            missing: (result.missing ?? []).join(', '),
            names: (result.names ?? []).join(', '),
            version: result.version ?? '',
            minimum: result.minimum ?? '',
            // otherService: what answers instead, and what was expected there
            service: result.service ? t(`setup.database.services.${result.service}`) : '',
            expected: t(`setup.database.providers.${c.provider}`),
            defaultPort: DEFAULT_PORTS[c.provider],
            caFile: c.caFile,
            // Only an unrecognized failure shows the driver's words (they name host and user, never the password).
            detail: cause === 'unknown' ? scrub(result.detail ?? '', c.password) : ''
          }
        }
      },
      view: { ...view, failure: { cause, hint: `setup.database.hints.${cause}`, untested: result.untested === true, canCreate: result.canCreate === true } }
    }
  }
  return {
    view: {
      ...view,
      test: {
        ok: true,
        key: `setup.database.testResult.${result.state === 'otherTables' ? 'otherTables' : result.state === 'ours' ? 'oursServer' : 'emptyServer'}`,
        params: { ...params, server: result.server, version: result.version, applied: result.applied, count: result.applied, pending: result.pending, tables: result.tables.join(', ') }
      },
      otherTables: result.state === 'otherTables'
    }
  }
}

function scrub (text: string, secret: string): string {
  return secret.length > 0 ? text.split(secret).join('…').split(encodeURIComponent(secret)).join('…') : text
}

/** After a test the fields show this connection's account (a pasted URL fills them): say whether its password is kept. */
function withPasswordState (outcome: ActionOutcome, c: ServerConnection, ctx: StepContext): ActionOutcome {
  return { ...outcome, view: { ...outcome.view, passwordStored: keptPassword(ctx, accountKey(c)) !== undefined } }
}

async function testServer (input: Input, ctx: StepContext): Promise<ActionOutcome & { connection?: ServerConnection, result?: ProbeResult }> {
  const { connection, fill, errors } = connectionFrom(input, ctx)
  if (errors || !connection) return { errors }
  const result = await probeDatabase(connection, { schema: ctx.definition.schema })
  return { ...withPasswordState(serverOutcome(result, connection, fill, ctx.t), connection, ctx), connection, result }
}

// ---------------------------------------------------------------------------------------------
// The step

function instancesError (input: Input): Errors | undefined {
  const instances = input.instances ?? 'single'
  if (!(INSTANCES as readonly string[]).includes(instances)) return { instances: { key: 'setup.database.errors.instances' } }
  return undefined
}

async function test (input: Input, ctx: StepContext): Promise<ActionOutcome> {
  const provider = input.provider
  const invalid = instancesError(input)
  if (invalid) return { errors: invalid }
  if (provider === 'sqlite') {
    if (input.instances === 'multiple') return { errors: { provider: { key: 'setup.database.errors.sqliteMultiple' } } }
    return testSqlite(input, ctx)
  }
  if (isServer(provider) || (input.url ?? '').trim() !== '') return testServer({ ...input, provider: provider ?? 'postgresql' }, ctx)
  return { errors: { provider: { key: 'setup.database.errors.provider' } } }
}

/** The database a dry run noted Install would create: the same account, database and TLS mode. */
function createKey (c: ServerConnection): string {
  return JSON.stringify([accountKey(c), c.database, c.tls])
}

/** A dry run's database that "Create it" was pressed for and that is still missing: accepted as Install would create it. */
function wouldCreate (ctx: StepContext, c: ServerConnection, result: ProbeResult): boolean {
  return !result.ok && result.cause === 'databaseMissing' && result.canCreate === true && ctx.data.dryRun?.createDatabase === createKey(c)
}

/** "Create it": creates the missing database, then tests again (the page shows both). */
async function create (input: Input, ctx: StepContext): Promise<ActionOutcome> {
  if (!isServer(input.provider) && (input.url ?? '').trim() === '') return test(input, ctx)
  const { connection, fill, errors } = connectionFrom(input, ctx)
  if (errors || !connection) return { errors }
  if (ctx.data.dryRun) {
    // A dry run creates nothing: the database is noted as one Install would create, if the account may.
    const result = await probeDatabase(connection, { schema: ctx.definition.schema })
    if (!result.ok && result.cause === 'databaseMissing' && result.canCreate) {
      ctx.data.dryRun.createDatabase = createKey(connection)
      return withPasswordState({ view: { ...(fill ? { fill } : {}), wouldCreate: true } }, connection, ctx)
    }
    return withPasswordState(serverOutcome(result, connection, fill, ctx.t), connection, ctx)
  }
  const failed = await createServerDatabase(connection)
  if (failed) {
    return withPasswordState(serverOutcome(failed, connection, fill, ctx.t), connection, ctx)
  }
  const outcome = withPasswordState(serverOutcome(await probeDatabase(connection, { schema: ctx.definition.schema }), connection, fill, ctx.t), connection, ctx)
  return { ...outcome, view: { ...outcome.view, created: true } }
}

const text = (maxLength: number) => ({ type: 'string', maxLength })

export const databaseStep = defineStep({
  id: 'database',
  fields: {
    provider: { schema: text(32) },
    instances: { schema: text(32) },
    file: { schema: text(4096) },
    url: { schema: text(4096) },
    host: { schema: text(4096) },
    port: { schema: text(64) },
    user: { schema: text(4096) },
    password: { schema: text(4096), secret: true },
    database: { schema: text(4096) },
    tls: { schema: text(32) },
    caFile: { schema: text(4096) },
    confirmOtherTables: { schema: text(16) }
  },
  redact: (name, value) => name === 'url' ? urlWithoutPassword(value) : value,
  values: ctx => {
    const answer = ctx.data.answers.database
    const base: Input = {
      provider: answer?.provider ?? 'sqlite',
      instances: answer?.multipleInstances ? 'multiple' : 'single',
      file: answer?.provider === 'sqlite' ? answer.file : defaultFile(ctx),
      url: '', host: 'localhost', port: '', user: '', database: '', tls: 'off', caFile: ''
    }
    if (answer && answer.provider !== 'sqlite') {
      Object.assign(base, { host: answer.host, port: String(answer.port), user: answer.user, database: answer.database, tls: answer.tls, caFile: answer.caFile })
    }
    return base
  },
  async view (ctx, values) {
    const answer = ctx.data.answers.database
    // "Leave empty to keep it" only where a password is kept for the account the form shows.
    const provider = isServer(values.provider) ? values.provider : answer && answer.provider !== 'sqlite' ? answer.provider : 'postgresql'
    const port = Number(values.port) || DEFAULT_PORTS[provider]
    const stored = keptPassword(ctx, accountKey({ provider, host: (values.host ?? '').trim(), port, user: (values.user ?? '').trim() })) !== undefined
    return {
      providers: PROVIDERS,
      instances: INSTANCES,
      tlsModes: TLS_MODES,
      defaultPorts: DEFAULT_PORTS,
      passwordStored: stored,
      serverFields: SERVER_FIELDS,
      current: values.provider
    }
  },
  actions: { test, create },
  async submit (input, ctx) {
    const invalid = instancesError(input)
    if (invalid) return { errors: invalid }
    const multipleInstances = input.instances === 'multiple'
    if (input.provider === 'sqlite') {
      if (multipleInstances) return { errors: { provider: { key: 'setup.database.errors.sqliteMultiple' } } }
      const result = await testSqlite(input, ctx)
      if (result.errors || !result.file) return result
      ctx.data.answers.database = { provider: 'sqlite', file: result.file, url: `file:${result.file}`, multipleInstances }
      delete ctx.data.kept.database
      return {}
    }
    if (!isServer(input.provider) && (input.url ?? '').trim() === '') return { errors: { provider: { key: 'setup.database.errors.provider' } } }
    const outcome = await testServer({ ...input, provider: input.provider ?? 'postgresql' }, ctx)
    if (outcome.connection && outcome.result && wouldCreate(ctx, outcome.connection, outcome.result)) {
      const c = outcome.connection
      ctx.data.answers.database = { ...c, url: buildDatabaseUrl(c), multipleInstances, allowOtherTables: false, create: true }
      delete ctx.data.kept.database
      return {}
    }
    if (outcome.errors || !outcome.connection || !outcome.result?.ok) return outcome
    const otherTables = outcome.result.state === 'otherTables'
    if (otherTables && input.confirmOtherTables !== 'yes') {
      return { errors: { confirmOtherTables: { key: 'setup.database.errors.confirmOtherTables' } }, view: outcome.view }
    }
    const c = outcome.connection
    ctx.data.answers.database = { ...c, url: buildDatabaseUrl(c), multipleInstances, allowOtherTables: otherTables }
    delete ctx.data.kept.database
    return {}
  },
  summary: ctx => [{ key: 'setup.finalize.summary.database', value: ctx.data.answers.database ? databaseSummary(ctx.data.answers.database, ctx.t) : '' }],
  preset: {
    env: ['DATABASE_PROVIDER', 'DATABASE_URL', 'APP_INSTANCES'],
    input (env, config): Input | undefined {
      const from = new Set(config.fromEnvironment)
      const v = config.values
      if (!from.has('DATABASE_PROVIDER') || !from.has('DATABASE_URL') || !v.databaseProvider || !v.databaseUrl) return undefined
      return v.databaseProvider === 'sqlite'
        ? { provider: 'sqlite', file: sqliteFile(v.databaseUrl), instances: 'single' }
        : { provider: v.databaseProvider, url: v.databaseUrl, instances: env.APP_INSTANCES === 'multiple' ? 'multiple' : 'single' }
    }
  },
  stages: [{
    id: 'migrate',
    async run (ctx) {
      const database = ctx.answers.database!
      try {
        const result = await migrate({
          provider: database.provider,
          url: database.url,
          migrationsDir: ctx.definition.schema.migrationsDir(database.provider),
          // The user confirmed installing beside another application's tables (database step).
          allowOtherTables: database.provider !== 'sqlite' && database.allowOtherTables,
          // With a backup: only up to its level; the restore stage loads it, then applies the rest.
          upTo: migrationLimit(ctx.data),
          onProgress: p => {
            if (p.status === 'applying' && p.index === 0) testKill('migrate:applying')
            if (p.status === 'applied') {
              testKill('migrate:applied')
              ctx.progress({ key: 'setup.finalize.stages.migrationApplied', params: { name: p.name, index: p.index + 1, total: p.total } })
            }
          }
        })
        ctx.log.info({ applied: result.applied.length, alreadyApplied: result.alreadyApplied.length }, 'migrations done')
        return { key: 'setup.finalize.stages.migrated', params: { count: result.applied.length, applied: result.applied.length, already: result.alreadyApplied.length } }
      } catch (err) {
        if (connectionLost(err)) ctx.fail({ key: 'setup.finalize.errors.connectionLost', params: { detail: ctx.scrub((err as Error).message) } }, err)
        if (err instanceof MigrationError) {
          ctx.fail({ key: `setup.finalize.errors.migration.${err.code}`, params: { migration: err.migration ?? '', detail: ctx.scrub(err.message) } }, err)
        }
        throw err
      }
    }
  }],
  resume (data, env) {
    // The journal keeps the address without its password: it comes back from the `.env` the install wrote.
    const answer = data.answers.database
    if (!answer) return true
    const url = env?.DATABASE_URL
    if (!url || withoutUrlPassword(url) !== answer.url) return false
    const password = urlPassword(url)
    answer.url = url
    if (answer.provider !== 'sqlite') answer.password = password
    data.kept.database = { password, for: answer.provider !== 'sqlite' ? accountKey(answer) : '' }
    return true
  },
  answers: {
    "description": "Where the app keeps its data: a SQLite file, or a PostgreSQL / MySQL (MariaDB) server given by its fields or by a URL.",
    "type": "object",
    "additionalProperties": false,
    "required": [
      "provider"
    ],
    "properties": {
      "provider": {
        "enum": [
          "sqlite",
          "postgresql",
          "mysql"
        ],
        "description": "The database engine; mysql also stands for MariaDB."
      },
      "file": {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "description": "With sqlite: the database file, absolute or relative to the server's working directory."
      },
      "url": {
        "type": "string",
        "pattern": "^(postgres|postgresql|mysql|mariadb)://",
        "maxLength": 2048,
        "description": "A server's connection URL (postgresql://user:password@host:5432/name, mysql://\u2026); percent-encode special characters of the password. Use \"${DATABASE_URL}\" to read it from the environment."
      },
      "host": {
        "type": "string",
        "minLength": 1,
        "maxLength": 253
      },
      "port": {
        "anyOf": [
          {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535
          },
          {
            "type": "string",
            "pattern": "^[0-9]{1,5}$"
          }
        ],
        "description": "Default: 5432 (PostgreSQL), 3306 (MySQL). A string is accepted for \"${DB_PORT}\"."
      },
      "user": {
        "type": "string",
        "minLength": 1,
        "maxLength": 128
      },
      "password": {
        "type": "string",
        "maxLength": 1024,
        "description": "Use \"${DB_PASSWORD}\" to read it from the environment."
      },
      "database": {
        "type": "string",
        "minLength": 1,
        "maxLength": 63
      },
      "ssl": {
        "enum": [
          "off",
          "required",
          "verify"
        ],
        "description": "TLS: off, required (not verified), or verify (certificate and host name checked). Default: off."
      },
      "caFile": {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "description": "With ssl verify: the PEM file of the certificate authority (default: the system's)."
      },
      "create": {
        "type": "boolean",
        "description": "Create the database when it does not exist (the account must be allowed to)."
      },
      "allowOtherTables": {
        "type": "boolean",
        "description": "Confirm installing into a database that already holds another application's tables."
      },
      "multipleInstances": {
        "type": "boolean",
        "description": "Several instances will run behind a load balancer (SQLite is then refused). Default: false."
      }
    },
    "allOf": [
      {
        "if": {
          "properties": {
            "provider": {
              "const": "sqlite"
            }
          }
        },
        "then": {
          "required": [
            "file"
          ]
        }
      },
      {
        "if": {
          "properties": {
            "provider": {
              "enum": [
                "postgresql",
                "mysql"
              ]
            }
          }
        },
        "then": {
          "anyOf": [
            {
              "required": [
                "url"
              ]
            },
            {
              "required": [
                "host",
                "user",
                "database"
              ]
            }
          ]
        }
      }
    ]
  },
  answersRequired: true,
  fromAnswers: (db): Input => ({
    instances: db.multipleInstances ? 'multiple' : 'single',
    ...(db.provider === 'sqlite'
      ? { provider: 'sqlite', file: db.file }
      : db.url !== undefined
        ? { provider: db.provider, url: db.url }
        : { provider: db.provider, host: db.host ?? '', port: db.port === undefined ? '' : String(db.port), user: db.user ?? '', password: db.password ?? '', database: db.database ?? '', tls: db.ssl ?? 'off', caFile: db.caFile ?? '' }),
    confirmOtherTables: db.allowOtherTables ? 'yes' : ''
  }),
  toAnswers (ctx, variable, place) {
    const db = ctx.data.answers.database
    if (!db) return undefined
    if (db.provider === 'sqlite') return { provider: 'sqlite', file: place(db.file), ...(db.multipleInstances && { multipleInstances: true }) }
    return {
      provider: db.provider,
      host: db.host,
      port: db.port,
      user: db.user,
      ...(db.password && { password: variable('DB_PASSWORD') }),
      database: db.database,
      ssl: db.tls,
      ...(db.caFile && { caFile: db.caFile }),
      ...(db.multipleInstances && { multipleInstances: true }),
      ...(db.allowOtherTables && { allowOtherTables: true }),
      // Exported from a dry run that found the database missing: Install (and a replay) creates it.
      ...(db.create && { create: true })
    }
  },
  replay: replayDatabase
})

/** The database went away under us (restart, crash, dropped connection), as opposed to refusing the work. */
function connectionLost (err: unknown): boolean {
  const e = err as { code?: string, message?: string }
  return /^(57P0[123]|08\w{3}|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT)$/.test(e?.code ?? '') ||
    /Connection terminated|terminating connection|server closed the connection/i.test(e?.message ?? '')
}

/** The file of a SQLite URL; an unusable URL is passed on as is, for the step to refuse with its reason. */
function sqliteFile (url: string): string {
  try {
    return sqliteFilePath(url)
  } catch {
    return url.replace(/^file:/, '')
  }
}

/** The password part of a URL, if any (SQLite file URLs have none). */
export function urlPassword (url: string): string {
  try { return decodeURIComponent(new URL(url).password) } catch { return '' }
}

export function withoutUrlPassword (url: string): string {
  try {
    const u = new URL(url)
    if (!u.password) return url
    u.password = ''
    return u.toString()
  } catch {
    return url
  }
}

/** The replay: the engine and where, then the database to create or other tables to accept when the answers say so. */
async function replayDatabase ({ page: p, answer: db, t, next, expectNext, pageError, fail }: Parameters<NonNullable<import('../step.ts').Step['replay']>>[0]): Promise<void> {
  const label = (key: string) => p.getByLabel(t(`setup.database.${key}`), { exact: true })
  // A radio's accessible name is its label followed by its hint.
  const radio = (group: string, value: string) => p.getByRole('radio', { name: `${t(`setup.database.${group}.${value}`)}` })
  await p.getByRole('radio', { name: t(`setup.database.instanceChoices.${db.multipleInstances ? 'multiple' : 'single'}`) }).check()
  await radio('providers', db.provider).check()
  if (db.provider === 'sqlite') {
    await label('file').fill(db.file)
  } else if (db.url !== undefined) {
    await label('url').fill(db.url)
  } else {
    await label('host').fill(db.host ?? '')
    await label('port').fill(db.port === undefined ? '' : String(db.port))
    await label('user').fill(db.user ?? '')
    await label('password').fill(db.password ?? '')
    await label('database').fill(db.database ?? '')
    const ssl = db.ssl ?? 'off'
    await p.getByRole('radio', { name: `${t(`setup.database.tlsModes.${ssl}`)} ${t(`setup.database.tlsHints.${ssl}`)}` }).check()
    if (db.caFile !== undefined) await label('caFile').fill(db.caFile)
  }
  await next()
  await p.waitForLoadState('domcontentloaded')
  if (db.provider !== 'sqlite' && new URL(p.url()).pathname.endsWith('/setup/database')) {
    // The test found something to confirm: a database to create, or other tables to install beside.
    const createLabel = t('setup.database.createButton', { database: '\u0001' }).split('\u0001')[0].replace(/[«“"\s\u00a0]+$/, '')
    const createButton = p.getByRole('button', { name: createLabel })
    if (db.create && await createButton.count() > 0) {
      await createButton.first().click()
      await p.waitForFunction(() => !document.querySelector('[data-test-result][aria-busy]'))
      if (await createButton.count() > 0) fail(await pageError() ?? 'the database could not be created')
    }
    const confirm = p.getByRole('checkbox', { name: t('setup.database.confirmOtherTables') })
    if (db.allowOtherTables && await confirm.count() > 0) await confirm.check()
    if (await createButton.count() === 0) await next()
  }
  await expectNext()
}

/** One line for the install summary: the engine and where, never the password. */
export function databaseSummary (answer: DatabaseAnswer, t: StepContext['t']): string {
  const engine = t(`setup.database.providers.${answer.provider}`)
  if (answer.provider === 'sqlite') return `${engine} — ${answer.file}`
  const host = answer.host.includes(':') ? `[${answer.host}]` : answer.host
  return `${engine} — ${answer.user}@${host}:${answer.port}/${answer.database} (${t(`setup.database.tlsModes.${answer.tls}`)})`
}
