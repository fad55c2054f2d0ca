// The `amorce` Fastify plugin and createServer: shared plugins first (forms, cookies, sessions, views, static
// files), then health, setup mode (loaded only by a process that starts in it) and the host's normal mode in
// its own encapsulated context. The mode in app.amorce picks who answers: before the install the host's routes
// are not served, once installed /setup/* is a plain 404 and an installed app never loads the wizard's code.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import type { Writable } from 'node:stream'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import session, { MemoryStore } from '@fastify/session'
import rateLimit from '@fastify/rate-limit'
import type { TFunction } from 'i18next'
import { loadConfig, type AppConfig } from './config/config.ts'
import { CacheSessionStore, SwitchableSessionStore } from './cache/session-store.ts'
import { cacheRateLimitStore } from './cache/rate-limit-store.ts'
import { createI18n, type Language } from './i18n.ts'
import render from './plugins/render.ts'
import security, { isCsrfError } from './plugins/security.ts'
import healthRoutes from './plugins/health.ts'
import staticFiles from './plugins/static.ts'
import { connectionCause, createClient, databaseDown, openRuntime, RuntimeError } from './runtime.ts'
import { ensureSetupToken, newSetupToken } from './setup/token.ts'
import { INSTALL_LOCK_SETTING, removeJournal } from './setup/lock.ts'
import { migrationStatus, sqliteFilePath, type Provider } from './db/migrate.ts'
import { resolveDefinition, type AmorceOptions, type AppDefinition, type AppSchema } from './definition.ts'
import type { AppState } from './state.ts'
import { packageDir } from './paths.ts'
import reference from './app/index.ts'

declare module 'fastify' {
  interface FastifyRequest {
    lang: Language
    t: TFunction
  }
  interface FastifyInstance {
    /** every route as registered (method, url): lets tests prove a rule holds for all of them */
    routeTable: Array<{ method: string, url: string }>
  }
}

export const publicDir = packageDir('public')

/** Log redaction: secrets never reach the log (ARCHITECTURE.md, habit 7). A host's own Fastify should use it too. */
export const REDACT = {
  paths: [
    'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]',
    'password', 'confirm', 'token', 'sessionSecret', 'databaseUrl', 'redisUrl', 'databasePassword', 'redisPassword', 'passwordHash',
    '*.password', '*.token', '*.databaseUrl', '*.redisUrl', '*.sessionSecret', '*.databasePassword', '*.redisPassword', '*.passwordHash'
  ],
  censor: '[redacted]'
}

/** Requests as logged: the query string is dropped, since `?token=` carries the setup token. */
function serializeRequest (req: { method: string, url: string, ip?: string, hostname?: string }) {
  return { method: req.method, url: req.url.split('?')[0], ip: req.ip, hostname: req.hostname }
}

/** What the plugin takes besides the host's definition. */
export interface PluginOptions extends AmorceOptions {
  /** How long an unavailable install waits between reconnection attempts (default 5 s). */
  retryUnavailableMs?: number
}

/** createServer's options: the plugin's, and the logger (false: none; an object: pino options over Amorce's). */
export interface ServerOptions extends PluginOptions {
  logger?: FastifyServerOptions['logger']
}

/** The configuration createServer already read, handed to the plugin so it is read once. */
const PRELOADED_CONFIG = Symbol('amorce.config')
/** A definition already resolved (tests that put a host's parts together by hand). */
const RESOLVED_DEFINITION = Symbol('amorce.definition')

/**
 * The Fastify server options Amorce recommends for a configuration: pino with secrets redacted and the query
 * string dropped, X-Forwarded-* trusted for TRUST_PROXY hops only, a 256 KiB body limit, no plugin timeout.
 */
export function serverOptions (config: AppConfig, logger?: FastifyServerOptions['logger']): FastifyServerOptions {
  return {
    logger: logger === false ? false : { level: config.logLevel, redact: REDACT, serializers: { req: serializeRequest }, ...(typeof logger === 'object' ? logger : {}) },
    // A number of hops, never `true`: trusting every hop would let a client set its own address.
    // (Hop 0 is the socket's peer, the proxy itself; the address before it in X-Forwarded-For is the client.)
    trustProxy: config.trustProxy > 0 ? (_address: string, hop: number) => hop < config.trustProxy : false,
    bodyLimit: 256 * 1024,
    // The plugin opens normal mode while it loads: pending migrations, waiting for another instance's
    // migration lock, can take longer than Fastify's 10 s plugin timeout.
    pluginTimeout: 0
  }
}

/** A Fastify instance with Amorce's recommended server options and the plugin registered (not yet listening). */
export async function createServer (options: ServerOptions): Promise<FastifyInstance> {
  const config = await loadConfig(options.env ?? process.env, options.cwd, { languages: options.languages })
  const app = Fastify(serverOptions(config, options.logger))
  try {
    await app.register(amorce, { ...options, [PRELOADED_CONFIG]: config } as PluginOptions)
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
  return app
}

/** The Fastify plugin: `await fastify.register(amorce, options)`; decorates `fastify.amorce`. */
export const amorce = fp<PluginOptions>(amorcePlugin, { name: 'amorce', fastify: '5.x' })

async function amorcePlugin (app: FastifyInstance, opts: PluginOptions): Promise<void> {
  const definition = (opts as { [RESOLVED_DEFINITION]?: AppDefinition })[RESOLVED_DEFINITION] ?? resolveDefinition(opts)
  const env = opts.env ?? process.env
  const reloadConfig = () => loadConfig(env, opts.cwd, { languages: definition.languages })
  const config = (opts as { [PRELOADED_CONFIG]?: AppConfig })[PRELOADED_CONFIG] ?? await reloadConfig()
  const i18n = await createI18n(definition.locales, definition.languages)

  const routeTable: Array<{ method: string, url: string }> = []
  app.decorate('routeTable', routeTable)
  app.addHook('onRoute', route => {
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url })
  })

  const state = appState(config, definition, i18n)
  app.decorate('amorce', state)

  await decideMode(app, state)

  // A host's own Fastify may have them already (registered before Amorce): theirs then serve.
  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) await app.register(formbody, { bodyLimit: 64 * 1024 })
  if (!app.hasDecorator('parseCookie')) await app.register(cookie)
  await app.register(session, {
    secret: state.setup?.sessionSecret ?? config.values.sessionSecret ?? randomBytes(32).toString('base64url'),
    cookieName: 'amorce.sid',
    store: new SwitchableSessionStore(() => state.sessionStore),
    saveUninitialized: false,
    cookie: {
      path: config.basePath || '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: 'auto',
      maxAge: 12 * 3600_000
    }
  })
  await app.register(security)
  await app.register(render, { production: env.NODE_ENV === 'production' })
  await app.register(staticFiles, { root: publicDir, prefix: config.basePath, maxAge: 3600 })
  // Limits are declared per route (login); counters live in the app's cache, shared with Redis.
  await app.register(rateLimit, { global: false, store: cacheRateLimitStore(() => state.runtime?.cache) })

  const languageOf = (req: FastifyRequest): Language => {
    const cookieLang = req.cookies?.['amorce.lang']
    // A host's third language is carried as a Language too: texts are looked up by its tag.
    return (i18n.isLanguage(cookieLang) ? cookieLang : i18n.negotiate(req.headers['accept-language'], state.config.values.appLocale)) as Language
  }
  app.decorateRequest('lang', 'en')
  app.decorateRequest('t', null as unknown as TFunction)
  app.addHook('onRequest', async (req, reply) => {
    const query = req.query as Record<string, unknown> | undefined
    let lang: Language | undefined
    if (i18n.isLanguage(query?.lang)) {
      lang = query.lang as Language
      reply.setCookie('amorce.lang', lang, { path: state.config.basePath || '/', sameSite: 'lax', httpOnly: true, secure: 'auto', maxAge: 365 * 86400 })
    }
    req.lang = lang ?? languageOf(req)
    req.t = i18n.translator(req.lang)
  })

  // Normal mode that could not start retries on later requests, so it recovers by itself.
  let retrying: Promise<void> | undefined
  app.addHook('onRequest', async () => {
    const u = state.unavailable
    if (state.mode !== 'unavailable' || !u || Date.now() - u.lastTry.getTime() < (opts.retryUnavailableMs ?? 5000)) return
    retrying ??= decideMode(app, state).finally(() => { retrying = undefined })
    await retrying
  })

  const isSetupUrl = (url: string) => {
    const p = url.split('?')[0]
    const prefix = `${state.config.basePath}/setup`
    return p === prefix || p.startsWith(`${prefix}/`)
  }
  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
    if (!req.t) {
      // Failed before the language hook ran (e.g. the session store did not answer): still localized.
      req.lang = languageOf(req)
      req.t = i18n.translator(req.lang)
    }
    if (isCsrfError(err)) {
      req.log.info({ code: err.code }, 'CSRF check failed')
      return reply.page('error', { status: 403, messageKey: 'errors.csrf' }, 403)
    }
    if (err.code === 'AMORCE_CACHE_UNAVAILABLE' && state.mode !== 'setup' && isSetupUrl(req.url)) {
      // Installed: /setup does not exist, whatever the cache says (the session it failed to read is not needed).
      ;(req as { session: unknown }).session = null
      return reply.page('error', { status: 404, messageKey: 'errors.notFound' }, 404)
    }
    if (err.code === 'AMORCE_CACHE_UNAVAILABLE') {
      // Redis away at run time: a clear 503 (the client reconnects by itself), not a crash.
      req.log.error({ err: { message: err.message, cause: (err.cause as Error | undefined)?.message } }, 'cache unavailable')
      reply.header('retry-after', '5')
      // Nothing to save on the way out: the store is what failed (saving again would fail again).
      ;(req as { session: unknown }).session = null
      if (req.url.startsWith(`${state.config.basePath}/health`)) return reply.code(503).send({ status: 'error', cache: 'down' })
      return reply.page('unavailable', { part: 'cache' }, 503)
    }
    if (status >= 500 && state.mode === 'normal' && state.runtime && await databaseDown(state.runtime)) {
      // The database went away under a running app: the same clear 503 as for the cache; the driver's
      // pool reconnects by itself, so the next request after it is back succeeds.
      const cause = connectionCause(state.runtime.provider, err)
      req.log.error({ cause, err: { message: err.message, code: err.code } }, 'database unavailable')
      reply.header('retry-after', '5')
      if (req.url.startsWith(`${state.config.basePath}/health`)) return reply.code(503).send({ status: 'error', db: 'down' })
      return reply.page('unavailable', { part: 'db', cause }, 503)
    }
    if (status >= 500) req.log.error({ err }, 'request failed')
    else req.log.info({ err: { message: err.message, code: err.code } }, 'bad request')
    if (req.url.startsWith(`${state.config.basePath}/health`)) return reply.code(status).send({ status: 'error' })
    return reply.page('error', { status, messageKey: status >= 500 ? 'errors.internal' : (CLIENT_ERROR_KEYS[status] ?? 'errors.badRequest') }, status)
  })
  app.setNotFoundHandler(async (_req, reply) => reply.page('error', { status: 404, messageKey: 'errors.notFound' }, 404))

  const switchToNormal = async () => {
    await decideMode(app, state)
    if (state.mode !== 'normal') throw new Error(`normal mode did not start: ${state.unavailable?.part}`)
  }
  state.lifecycle = { reloadConfig, switchToNormal, env }
  await app.register(healthRoutes, { prefix: config.basePath })
  if (state.mode === 'setup') {
    const [{ default: setupRoutes }, { default: restoreUpload }] = await Promise.all([import('./setup/routes.ts'), import('./plugins/restore-upload.ts')])
    await app.register(setupRoutes, { prefix: `${config.basePath}/setup`, reloadConfig, switchToNormal })
    await app.register(restoreUpload, { prefix: config.basePath, env })
  }
  if (opts.app) {
    const hostApp = opts.app
    // The host's normal mode in its own context: its hooks, decorators and error handler stay its own.
    await app.register(async function normalMode (child) {
      child.addHook('onRequest', async (req, reply) => notInstalled(state, req, reply))
      await child.register(hostApp)
    }, { prefix: config.basePath })
  }

  app.addHook('onClose', async () => { await state.runtime?.close() })
}

/**
 * The host's routes answer only in normal mode. Before the install every request goes to the wizard (303, as
 * the reference app always did: a form posted to a page that is not there yet lands on the wizard); installed
 * but unavailable, a localized 503, never the wizard again.
 */
async function notInstalled (state: AppState, req: FastifyRequest, reply: FastifyReply) {
  const base = state.config.basePath
  if (state.mode === 'setup') {
    const q = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''
    return reply.redirect(`${base}/setup${q}`, 303)
  }
  if (state.mode === 'unavailable') return reply.header('retry-after', '5').page('unavailable', { part: state.unavailable?.part ?? 'db', cause: state.unavailable?.cause }, 503)
}

/** The per-instance state, with the normal-mode accessors a host's plugin reads. */
function appState (config: AppConfig, definition: AppState['definition'], i18n: AppState['i18n']): AppState {
  const runtime = () => {
    if (state.mode !== 'normal' || !state.runtime) throw new Error('amorce: the database and the cache are open in normal mode only')
    return state.runtime
  }
  const state: AppState = {
    mode: 'setup',
    config,
    sessionStore: new MemoryStore(),
    definition,
    i18n,
    get db () { return runtime().db },
    get cache () { return runtime().cache },
    async backup (out: Writable) {
      const { provider } = runtime()
      const { createBackup } = await import('./backup/create.ts')
      // The app's own tables, as its (engine-neutral) SQLite migrations describe them, at its level for the engine.
      const manifest = await createBackup(out, { provider: provider as Provider, url: state.config.values.databaseUrl!, tmpDir: state.config.dataDir, schema: definition.schema })
      return { tables: manifest.tables.length, rows: manifest.tables.reduce((s, t) => s + t.rows, 0) }
    },
    async migrationStatus () {
      const { provider } = runtime()
      return migrationStatus({ provider, url: state.config.values.databaseUrl!, migrationsDir: definition.schema.migrationsDir(provider) })
    }
  }
  return state
}

/** Client errors with their own page (the others are "request not understood"). */
const CLIENT_ERROR_KEYS: Record<number, string> = { 413: 'errors.tooLarge', 415: 'errors.unsupportedType' }

/** Setup when no lock; normal when installed and the runtime opens; unavailable otherwise. */
async function decideMode (app: FastifyInstance, state: AppState): Promise<void> {
  if (!state.config.installed) {
    const lockedAt = await installLockInDatabase(state.config, state.definition.schema)
    if (lockedAt) {
      // A platform whose disk does not survive a deploy (Render, some containers) loses the .env and
      // its lock; the database, given by the environment, still says the app is installed.
      app.log.info({ installedAt: lockedAt }, 'the install lock is in the database: normal mode')
      state.config = { ...state.config, installed: true, values: { ...state.config.values, installedAt: lockedAt } }
    }
  }
  const { config } = state
  if (!config.installed) {
    let token: string
    let file: string | null
    let expiresAt: number
    try {
      ({ token, file, expiresAt } = await ensureSetupToken(config.dataDir, config.setupTokenTtlHours))
    } catch (err) {
      // An unusable DATA_DIR must not stop the wizard: it is what the prerequisites step explains.
      app.log.warn({ dataDir: config.dataDir, code: (err as NodeJS.ErrnoException).code }, 'the setup token cannot be saved: it is only printed')
      token = newSetupToken()
      file = null
      expiresAt = Date.now() + config.setupTokenTtlHours * 3600_000
    }
    // A SESSION_SECRET given by the environment is the one the installed app will use: take it now.
    const sessionSecret = config.fromEnvironment.includes('SESSION_SECRET') && config.values.sessionSecret ? config.values.sessionSecret : randomBytes(32).toString('base64url')
    state.setup ??= { token, tokenFile: file, tokenExpiresAt: expiresAt, sessionSecret }
    state.setup.token = token
    state.setup.tokenExpiresAt = expiresAt
    state.mode = 'setup'
    return
  }
  try {
    const runtime = await openRuntime(config, app.log, state.definition.schema)
    await state.runtime?.close()
    state.runtime = runtime
    state.sessionStore = new CacheSessionStore(runtime.cache)
    state.mode = 'normal'
    state.unavailable = undefined
    state.setup = undefined
    // A crash after the lock but before the cleanup leaves these behind; installed, they are stale.
    await removeJournal(config.dataDir).catch(() => {})
  } catch (err) {
    const part = err instanceof RuntimeError ? err.part : 'db'
    const cause = err instanceof RuntimeError ? err.dbCause : undefined
    app.log.error({ part, cause, err: { message: (err as Error).message } }, 'installed, but normal mode cannot start')
    state.mode = 'unavailable'
    state.unavailable = { part, cause, since: state.unavailable?.since ?? new Date(), lastTry: new Date() }
  }
}

/**
 * The install lock kept in the database (Setting install:completedAt, written by finalize), read
 * only when the database itself comes from the real environment: then a lost .env does not reopen
 * the wizard on a live install. Any failure (no table yet, unreachable) means "not installed".
 */
async function installLockInDatabase (config: AppConfig, schema: AppSchema): Promise<string | undefined> {
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!provider || !url || !config.fromEnvironment.includes('DATABASE_URL')) return undefined
  let db: Awaited<ReturnType<typeof createClient>> | undefined
  try {
    // Opening a missing SQLite file would create it: no file, no lock.
    if (provider === 'sqlite' && !existsSync(sqliteFilePath(url))) return undefined
    db = await createClient(schema, provider, url)
    const client = db
    const row = await Promise.race([
      client.setting.findUnique({ where: { key: INSTALL_LOCK_SETTING } }),
      new Promise<null>(resolve => setTimeout(() => resolve(null), 5000).unref())
    ])
    return row?.value
  } catch {
    return undefined
  } finally {
    await db?.$disconnect().catch(() => {})
  }
}

/** The reference app's build options (tests and `npm start`): the configuration's source and the logger. */
export interface BuildOptions {
  /** the environment the configuration is read from (tests pass their own) */
  env?: NodeJS.ProcessEnv
  cwd?: string
  logger?: FastifyServerOptions['logger']
  /** How long an unavailable install waits between reconnection attempts. */
  retryUnavailableMs?: number
  /** the app's definition already resolved (default: the reference app's); tests give extra steps through it */
  definition?: AppDefinition
}

/** The reference app's definition, resolved (tests that call a step directly). */
export function referenceDefinition (): AppDefinition {
  return resolveDefinition(reference)
}

/** The reference app (server/app/) on createServer: a test and `npm start` shortcut. */
export async function buildApp (opts: BuildOptions = {}): Promise<FastifyInstance> {
  const { definition, ...rest } = opts
  return createServer({ ...reference, ...rest, ...(definition ? { [RESOLVED_DEFINITION]: definition } : {}) })
}
