// Normal mode: admin login/logout, the dashboard and the root redirect. In setup mode these send
// the visitor to the wizard; when the install cannot start they answer 503, never the wizard.
import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { randomBytes } from 'node:crypto'
import { hashPassword, verifyPassword } from '../auth/password.ts'
import { migrationStatus } from '../db/migrate.ts'
import { formInput } from '../setup/routes.ts'

declare module '@fastify/session' {
  interface FastifySessionObject {
    userId?: number
  }
}

export const APP_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version

// A real hash to verify against when the user does not exist, so both cases take the same time.
let dummyHash: Promise<string> | undefined
const unknownUserHash = () => (dummyHash ??= hashPassword(randomBytes(16).toString('hex')))

export default async function appRoutes (app: FastifyInstance): Promise<void> {
  const base = () => app.amorce.config.basePath

  app.addHook('onRequest', async (req, reply) => {
    const { mode } = app.amorce
    if (mode === 'setup') {
      const q = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''
      return reply.redirect(`${base()}/setup${q}`, 303)
    }
    if (mode === 'unavailable') return reply.page('unavailable', { part: app.amorce.unavailable?.part ?? 'db' }, 503)
  })

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
    const db = app.amorce.runtime!.db
    const user = await db.adminUser.findFirst({ where: { OR: [{ username: login }, { email: login }] } })
    const ok = await verifyPassword(user?.passwordHash ?? await unknownUserHash(), password)
    if (!user || !ok) {
      req.log.info({ login }, 'failed login')
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
    const { runtime, config } = app.amorce
    const user = await runtime!.db.adminUser.findUnique({ where: { id: req.session.userId! } })
    if (!user) {
      await req.session.destroy()
      return reply.redirect(`${base()}/login`, 303)
    }
    const migrations = await migrationStatus({ provider: runtime!.provider, url: config.values.databaseUrl! })
    return reply.page('app/dashboard', {
      user: { username: user.username, email: user.email, lastLoginAt: user.lastLoginAt?.toISOString() ?? '' },
      install: {
        provider: runtime!.provider,
        cache: runtime!.cache.backend,
        migrations: migrations.applied,
        pending: migrations.pending,
        version: APP_VERSION,
        installedAt: config.values.installedAt ?? ''
      }
    })
  })

  async function requireAdmin (req: FastifyRequest, reply: FastifyReply) {
    if (!req.session.userId) return reply.redirect(`${base()}/login`, 303)
  }
}
