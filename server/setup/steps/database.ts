// Step 3: where the app keeps its data: SQLite (a file), PostgreSQL or MySQL/MariaDB (a server). The choice is
// tested before it is accepted; a server test names the cause of any failure (server/db/probe.ts).
import path from 'node:path'
import { referenceSchema } from '../../app/schema.ts'
import { buildDatabaseUrl, DEFAULT_PORTS, parseDatabaseUrl, PROVIDERS, SERVER_PROVIDERS } from '../../db/engines/index.ts'
import { probeSqliteFile, type SqliteProbeResult } from '../../db/engines/sqlite.ts'
import { createServerDatabase, probeDatabase, validDatabaseName, type ProbeResult } from '../../db/probe.ts'
import { DatabaseUrlError, TLS_MODES, type ServerConnection, type ServerProvider, type TlsMode } from '../../db/url.ts'
import { CONTROL_CHARACTERS, envStorable } from '../paths.ts'
import type { ActionOutcome, Errors, Input, Step, StepContext, StepView } from '../wizard.ts'

export { PROVIDERS }
export const INSTANCES = ['single', 'multiple'] as const

export interface SqliteAnswer { provider: 'sqlite', file: string, url: string, multipleInstances: boolean }
export interface ServerAnswer extends ServerConnection {
  provider: ServerProvider
  url: string
  multipleInstances: boolean
  /** The user confirmed installing beside another application's tables (the runner then accepts them). */
  allowOtherTables: boolean
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
  return { ...sqliteOutcome(await probeSqliteFile(file, { schema: referenceSchema }), ctx.t), file }
}

// ---------------------------------------------------------------------------------------------
// Servers: the form (or a pasted URL) → connection settings

/** Whose password it is: another engine, server or user never inherits a password kept for this one. */
function accountKey (c: Pick<ServerConnection, 'provider' | 'host' | 'port' | 'user'>): string {
  return JSON.stringify([c.provider, c.host.replace(/^\[(.*)\]$/, '$1').toLowerCase(), c.port, c.user])
}

/** Remembers a password for this account (kept server-side, never rendered). */
function keepPassword (ctx: StepContext, account: string, password: string): void {
  ctx.data.databasePassword = password
  ctx.data.databasePasswordFor = account
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
  if (ctx.data.databasePassword !== undefined && ctx.data.databasePasswordFor === account) return ctx.data.databasePassword
  const answer = ctx.data.database
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
  const result = await probeDatabase(connection, { schema: referenceSchema })
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

/** "Create it": creates the missing database, then tests again (the page shows both). */
async function create (input: Input, ctx: StepContext): Promise<ActionOutcome> {
  if (!isServer(input.provider) && (input.url ?? '').trim() === '') return test(input, ctx)
  const { connection, fill, errors } = connectionFrom(input, ctx)
  if (errors || !connection) return { errors }
  const failed = await createServerDatabase(connection)
  if (failed) {
    return withPasswordState(serverOutcome(failed, connection, fill, ctx.t), connection, ctx)
  }
  const outcome = withPasswordState(serverOutcome(await probeDatabase(connection, { schema: referenceSchema }), connection, fill, ctx.t), connection, ctx)
  return { ...outcome, view: { ...outcome.view, created: true } }
}

export const databaseStep: Step = {
  id: 'database',
  secretFields: ['password'],
  redact: (name, value) => name === 'url' ? urlWithoutPassword(value) : value,
  values: ctx => {
    const answer = ctx.data.database
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
    const answer = ctx.data.database
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
      ctx.data.database = { provider: 'sqlite', file: result.file, url: `file:${result.file}`, multipleInstances }
      delete ctx.data.databasePassword
      delete ctx.data.databasePasswordFor
      return {}
    }
    if (!isServer(input.provider) && (input.url ?? '').trim() === '') return { errors: { provider: { key: 'setup.database.errors.provider' } } }
    const outcome = await testServer({ ...input, provider: input.provider ?? 'postgresql' }, ctx)
    if (outcome.errors || !outcome.connection || !outcome.result?.ok) return outcome
    const otherTables = outcome.result.state === 'otherTables'
    if (otherTables && input.confirmOtherTables !== 'yes') {
      return { errors: { confirmOtherTables: { key: 'setup.database.errors.confirmOtherTables' } }, view: outcome.view }
    }
    const c = outcome.connection
    ctx.data.database = { ...c, url: buildDatabaseUrl(c), multipleInstances, allowOtherTables: otherTables }
    delete ctx.data.databasePassword
    delete ctx.data.databasePasswordFor
    return {}
  }
}

/** One line for the install summary: the engine and where, never the password. */
export function databaseSummary (answer: DatabaseAnswer, t: StepContext['t']): string {
  const engine = t(`setup.database.providers.${answer.provider}`)
  if (answer.provider === 'sqlite') return `${engine} — ${answer.file}`
  const host = answer.host.includes(':') ? `[${answer.host}]` : answer.host
  return `${engine} — ${answer.user}@${host}:${answer.port}/${answer.database} (${t(`setup.database.tlsModes.${answer.tls}`)})`
}
