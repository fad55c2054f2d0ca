// The root plugin: shared plugins first (forms, cookies, sessions, views, static files), then the
// setup and app routes. The mode in app.amorce picks who answers. The setup routes are loaded only by a
// process that starts in setup mode (they answer 404 once it is installed): an installed app never loads
// the wizard's code, which keeps its memory small; /setup/* is then a plain 404.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import session, { MemoryStore } from '@fastify/session'
import fastifyStatic from '@fastify/static'
import rateLimit from '@fastify/rate-limit'
import type { TFunction } from 'i18next'
import { loadConfig, type AppConfig } from './config/config.ts'
import { CacheSessionStore, SwitchableSessionStore } from './cache/session-store.ts'
import { cacheRateLimitStore } from './cache/rate-limit-store.ts'
import { createTranslator, isLanguage, negotiateLanguage, type Language } from './i18n.ts'
import render from './plugins/render.ts'
import security, { isCsrfError } from './plugins/security.ts'
import appRoutes from './app/routes.ts'
import healthRoutes from './app/health.ts'
import backupRoutes from './app/backup-routes.ts'
import { connectionCause, databaseDown, openRuntime, RuntimeError } from './app/runtime.ts'
import { ensureSetupToken, newSetupToken } from './setup/token.ts'
import { INSTALL_LOCK_SETTING, removeJournal } from './setup/finalize.ts'
import { sqliteFilePath } from './db/migrate.ts'
import type { AppState } from './state.ts'
import { fromPackageRoot, packageDir } from './paths.ts'
import type { AppDefinition } from './definition.ts'
import { defaultSteps } from './setup/registry.ts'
import { adminStore } from './app/admin-store.ts'
import { createPrismaClient, referenceSchema } from './app/schema.ts'
import { viewsDir } from './plugins/render.ts'
import { LANGUAGES, localesDir } from './i18n.ts'

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

/** Log redaction: secrets never reach the log (ARCHITECTURE.md, habit 7). */
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

export interface BuildOptions {
  /** the environment the configuration is read from (tests pass their own) */
  env?: NodeJS.ProcessEnv
  cwd?: string
  logger?: FastifyServerOptions['logger']
  /** How long an unavailable install waits between reconnection attempts. */
  retryUnavailableMs?: number
  /** the app to install and serve (default: the reference app); tests give extra steps through it */
  definition?: AppDefinition
}

/**
 * The reference app's definition: Amorce's default steps, its AdminUser table, its own Prisma schema.
 * (The one place it is put together, for the plugin's options to take over.)
 */
export function referenceDefinition (): AppDefinition {
  return {
    name: 'Amorce',
    root: fromPackageRoot(),
    version: (JSON.parse(readFileSync(fromPackageRoot('package.json'), 'utf8')) as { version: string }).version,
    // Its generated clients, migrations and value formats: server/app/schema.ts.
    schema: referenceSchema,
    admin: adminStore,
    steps: defaultSteps,
    languages: LANGUAGES,
    brand: { name: 'Amorce' },
    views: [viewsDir],
    locales: [localesDir]
  }
}

export async function buildApp (opts: BuildOptions = {}): Promise<FastifyInstance> {
  const env = opts.env ?? process.env
  const reloadConfig = () => loadConfig(env, opts.cwd)
  const config = await reloadConfig()
  const app = Fastify({
    logger: opts.logger === false ? false : { level: config.logLevel, redact: REDACT, serializers: { req: serializeRequest }, ...(typeof opts.logger === 'object' ? opts.logger : {}) },
    // A number of hops, never `true`: trusting every hop would let a client set its own address.
    // (Hop 0 is the socket's peer, the proxy itself; the address before it in X-Forwarded-For is the client.)
    trustProxy: config.trustProxy > 0 ? (_address: string, hop: number) => hop < config.trustProxy : false,
    bodyLimit: 256 * 1024
  })

  const routeTable: Array<{ method: string, url: string }> = []
  app.decorate('routeTable', routeTable)
  app.addHook('onRoute', route => {
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url })
  })

  // The app's texts: Amorce's, under a host's own when its definition names other locale directories.
  const definition = opts.definition ?? referenceDefinition()
  const translate = await createTranslator(definition.locales)
  const wizardSessions = new MemoryStore()
  const state: AppState = { mode: 'setup', config, definition, sessionStore: wizardSessions }
  app.decorate('amorce', state)

  await decideMode(app, state)

  await app.register(formbody, { bodyLimit: 64 * 1024 })
  await app.register(cookie)
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
  await app.register(fastifyStatic, { root: publicDir, prefix: `${config.basePath}/public/`, maxAge: '1h' })
  // Limits are declared per route (login); counters live in the app's cache, shared with Redis.
  await app.register(rateLimit, { global: false, store: cacheRateLimitStore(() => state.runtime?.cache) })

  app.decorateRequest('lang', 'en')
  app.decorateRequest('t', null as unknown as TFunction)
  app.addHook('onRequest', async (req, reply) => {
    const query = req.query as Record<string, unknown> | undefined
    let lang: Language | undefined
    if (isLanguage(query?.lang)) {
      lang = query.lang
      reply.setCookie('amorce.lang', lang, { path: state.config.basePath || '/', sameSite: 'lax', httpOnly: true, secure: 'auto', maxAge: 365 * 86400 })
    }
    const cookieLang = req.cookies['amorce.lang']
    lang ??= isLanguage(cookieLang) ? cookieLang : undefined
    lang ??= negotiateLanguage(req.headers['accept-language'], state.config.values.appLocale ?? 'en')
    req.lang = lang
    req.t = translate(lang)
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
      const cookieLang = req.cookies?.['amorce.lang']
      req.lang = isLanguage(cookieLang) ? cookieLang : negotiateLanguage(req.headers['accept-language'], state.config.values.appLocale ?? 'en')
      req.t = translate(req.lang)
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
    const { default: setupRoutes } = await import('./setup/routes.ts')
    await app.register(setupRoutes, { prefix: `${config.basePath}/setup`, reloadConfig, switchToNormal })
  }
  await app.register(appRoutes, { prefix: config.basePath })
  await app.register(backupRoutes, { prefix: config.basePath, env })

  app.addHook('onClose', async () => { await state.runtime?.close() })
  return app
}

/** Client errors with their own page (the others are "request not understood"). */
const CLIENT_ERROR_KEYS: Record<number, string> = { 413: 'errors.tooLarge', 415: 'errors.unsupportedType' }

/** Setup when no lock; normal when installed and the runtime opens; unavailable otherwise. */
async function decideMode (app: FastifyInstance, state: AppState): Promise<void> {
  if (!state.config.installed) {
    const lockedAt = await installLockInDatabase(state.config)
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
    const runtime = await openRuntime(config, app.log)
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
async function installLockInDatabase (config: AppConfig): Promise<string | undefined> {
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!provider || !url || !config.fromEnvironment.includes('DATABASE_URL')) return undefined
  let db: Awaited<ReturnType<typeof createPrismaClient>> | undefined
  try {
    // Opening a missing SQLite file would create it: no file, no lock.
    if (provider === 'sqlite' && !existsSync(sqliteFilePath(url))) return undefined
    db = await createPrismaClient(provider, url)
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
