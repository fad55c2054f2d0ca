// The reference app's normal mode: admin login/logout, the dashboard, the instance name, the backup download
// and the root redirect. Amorce serves them once installed only (before: the wizard; unavailable: a 503).
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createHash, randomBytes } from 'node:crypto'
import { formInput, hashPassword, verifyPassword } from '../core.ts'
import backupRoutes from './backup.ts'
import { createSettings } from './settings.ts'

/** Where the install keeps its answers file (server/setup/steps/finalize.ts INSTALL_ANSWERS_FILE, issue 16). */
const INSTALL_ANSWERS_FILE = 'install-answers.json'

declare module '@fastify/session' {
  interface FastifySessionObject {
    userId?: number
  }
}

// A real hash to verify against when the user does not exist, so both cases take the same time.
let dummyHash: Promise<string> | undefined
const unknownUserHash = () => (dummyHash ??= hashPassword(randomBytes(16).toString('hex')))

/**
 * Login throttling: 5 failed attempts per 15 minutes for one client address and one login name
 * (a person mistyping elsewhere is not locked out; a guesser is). Successes do not count. The
 * counters live in the app's cache, so with Redis every instance counts the same attempts.
 */
export const LOGIN_MAX_FAILURES = 5
export const LOGIN_WINDOW_MS = 15 * 60_000
// The login name is hashed: cache keys never hold a username or an email.
const loginKey = (req: FastifyRequest) => `login:${req.ip}:${createHash('sha256').update((formInput(req.body).login ?? '').trim().normalize('NFC').toLowerCase()).digest('base64url').slice(0, 22)}`

export default async function appRoutes (app: FastifyInstance): Promise<void> {
  const base = () => app.amorce.config.basePath
  const loginLimit = app.createRateLimit({ max: LOGIN_MAX_FAILURES, timeWindow: LOGIN_WINDOW_MS, keyGenerator: loginKey })
  await app.register(backupRoutes)

  app.get('/', async (req, reply) => reply.redirect(`${base()}${req.session.userId ? '/dashboard' : '/login'}`, 303))

  app.get('/login', async (req, reply) => {
    if (req.session.userId) return reply.redirect(`${base()}/dashboard`, 303)
    return reply.page('app/login', { values: { login: '' }, errors: {} })
  })

  app.post('/login', async (req, reply) => {
    const input = formInput(req.body)
    const login = (input.login ?? '').trim().normalize('NFC')
    const password = input.password ?? ''
    if (login === '' || password === '') {
      return reply.page('app/login', { values: { login }, errors: { _form: { key: 'app.login.errors.missing' } } }, 422)
    }
    const limit = await loginLimit(req, { increment: false })
    if (!limit.isAllowed && limit.remaining === 0) {
      req.log.warn({ ip: req.ip }, 'login attempts throttled')
      reply.header('retry-after', String(limit.ttlInSeconds))
      return reply.page('app/rate-limited', { minutes: Math.max(1, Math.ceil(limit.ttlInSeconds / 60)) }, 429)
    }
    const db = app.amorce.db
    const user = await db.adminUser.findFirst({ where: { OR: [{ username: login }, { email: login }] } })
    const ok = await verifyPassword(user?.passwordHash ?? await unknownUserHash(), password)
    if (!user || !ok) {
      req.log.info({ login }, 'failed login')
      await loginLimit(req)
      return reply.page('app/login', { values: { login }, errors: { _form: { key: 'app.login.errors.invalid' } } }, 401)
    }
    await req.session.regenerate()
    req.session.userId = user.id
    await db.$transaction([
      db.adminUser.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } }),
      db.auditLog.create({ data: { event: 'auth.login', actorId: user.id } })
    ])
    return reply.redirect(`${base()}/dashboard`, 303)
  })

  app.post('/logout', async (req, reply) => {
    await req.session.destroy()
    return reply.redirect(`${base()}/login`, 303)
  })

  app.get('/dashboard', { preHandler: requireAdmin }, async (req, reply) => {
    const { db, cache, config, definition } = app.amorce
    const user = await db.adminUser.findUnique({ where: { id: req.session.userId! } })
    if (!user) {
      await req.session.destroy()
      return reply.redirect(`${base()}/login`, 303)
    }
    const migrations = await app.amorce.migrationStatus()
    return reply.page('app/dashboard', {
      instanceName: await createSettings({ db, cache }).get('instanceName'),
      answersAvailable: existsSync(path.join(config.dataDir, INSTALL_ANSWERS_FILE)),
      user: { username: user.username, email: user.email, lastLoginAt: user.lastLoginAt?.toISOString() ?? '' },
      install: {
        provider: config.values.databaseProvider,
        cache: cache.backend,
        migrations: migrations.applied,
        pending: migrations.pending,
        version: definition.version,
        installedAt: config.values.installedAt ?? ''
      }
    })
  })

  // The answers file of this install (placeholders for every secret), as the summary page offered it (issue 16).
  app.get('/dashboard/answers.json', { preHandler: requireAdmin }, async (_req, reply) => {
    const text = await readFile(path.join(app.amorce.config.dataDir, INSTALL_ANSWERS_FILE), 'utf8').catch(() => null)
    if (text === null) return reply.callNotFound()
    return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store')
      .header('content-disposition', 'attachment; filename="answers.json"').send(text)
  })

  app.post('/settings/instance-name', { preHandler: requireAdmin }, async (req, reply) => {
    await createSettings(app.amorce).set('instanceName', formInput(req.body).instanceName ?? '')
    return reply.redirect(`${base()}/dashboard`, 303)
  })

  async function requireAdmin (req: FastifyRequest, reply: FastifyReply) {
    if (!req.session.userId) return reply.redirect(`${base()}/login`, 303)
  }
}
