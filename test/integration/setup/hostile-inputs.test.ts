// Inputs that once answered 500 or a bare JSON error: `_action` values named like Object.prototype
// members, oversized forms, other content types, broken bodies; `/setup` after install while Redis is
// down; a resumed install's audit trail. Each answers a localized HTML page with a 4xx.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { authorizedClient, build, Client, tempDir, text, walkToFinalize } from '../../helpers/app.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../../helpers/redis.ts'
import { ADMIN, installedApp } from '../cache/installed.ts'
import { createWizardAdmin } from '../../../server/setup/finalize.ts'
import { adminStore } from '../../../server/app/admin-store.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { migrate } from '../../../server/db/migrate.ts'

import { hashPassword } from '../../../server/auth/password.ts'
import { createPrismaClient } from '../../../server/reference.ts'

const PROTOTYPE_NAMES = [
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable',
  '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__', 'toLocaleString'
]

function assertLocalizedPage (res: { statusCode: number, headers: Record<string, unknown>, body: string }, status: number, title: RegExp, what: string) {
  assert.equal(res.statusCode, status, `${what}: ${res.statusCode} ${res.body.slice(0, 200)}`)
  assert.match(String(res.headers['content-type']), /^text\/html/, `${what}: an HTML page, not Fastify's JSON`)
  assert.match(text(res), title, what)
}

test('_action named like an Object.prototype member: 400 with the localized error page, nothing run', { timeout: 120_000 }, async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app, { 'accept-language': 'fr' })
  await walkToFinalize(client, dir, 'fr')
  const before = JSON.stringify((await client.get('/setup/finalize')).statusCode)
  for (const step of ['database', 'cache', 'restore', 'admin', 'language']) {
    for (const action of PROTOTYPE_NAMES) {
      const res = await client.post(`/setup/${step}`, { _action: action, provider: 'sqlite', file: path.join(dir, 'data', 'app.db'), backend: 'memory' })
      assertLocalizedPage(res, 400, /<title>[^<]*Requête incomprise/, `/setup/${step} _action=${action}`)
    }
  }
  // The answers are untouched: the summary still opens.
  assert.equal(JSON.stringify((await client.get('/setup/finalize')).statusCode), before)
  // Prototype-named fields are plain (ignored) fields, not a prototype change.
  const res = await client.post('/setup/database', { __proto__: 'x', constructor: 'y', toString: 'z', _action: 'test', provider: 'sqlite', file: path.join(dir, 'data', 'app.db') } as Record<string, string>)
  assert.equal(res.statusCode, 200)
})

test('an oversized form is 413 "Request too large", other bodies are localized 4xx pages (never JSON)', { timeout: 60_000 }, async t => {
  const { app } = await build(t)
  const en = await authorizedClient(app, { 'accept-language': 'en' })
  const csrf = en.csrfToken() ?? await en.fetchCsrf('/setup/language')
  const big = `_csrf=${csrf}&language=${'x'.repeat(1024 * 1024)}`
  assertLocalizedPage(await en.postRaw('/setup/language', big), 413, /<title>[^<]*Request too large/, '1 MB form (en)')
  const fr = new Client(app, { 'accept-language': 'fr' })
  assertLocalizedPage(await fr.postRaw('/setup/token', big), 413, /<title>[^<]*Requête trop volumineuse/, '1 MB form (fr)')
  // A content type no route reads.
  assertLocalizedPage(await en.postRaw('/setup/language', 'language=en', { 'content-type': 'application/xml' }), 415, /Format not accepted/, 'XML body')
  assertLocalizedPage(await fr.postRaw('/setup/token', '--b\r\n', { 'content-type': 'multipart/form-data; boundary=b' }), 415, /Format non accepté/, 'multipart body (fr)')
  // Broken JSON is parsed by Fastify before any route: still the page.
  assertLocalizedPage(await en.postRaw('/setup/language', '{"language":', { 'content-type': 'application/json' }), 400, /Request not understood/, 'broken JSON')
  // A huge JSON body, over the server's own limit.
  assertLocalizedPage(await en.postRaw('/setup/language', JSON.stringify({ a: 'x'.repeat(300 * 1024) }), { 'content-type': 'application/json' }), 413, /Request too large/, 'huge JSON')
})

test('/setup after install while Redis is down: 404, not a 503', { timeout: 60_000 }, async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t)
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, { backend: 'redis', redisUrl: `${redis.url}/0` })
  // A browser with a session (kept in Redis): each request makes the store look it up.
  const client = new Client(app, { 'accept-language': 'fr' })
  await client.get('/login')
  assert.equal((await client.post('/login', { login: ADMIN.username, password: ADMIN.password })).statusCode, 303)
  await redis.stop()
  for (const url of ['/setup', '/setup/', '/setup/database', '/setup/token?token=x']) {
    assertLocalizedPage(await client.get(url), 404, /Page introuvable/, url)
  }
  // The app's own pages still say the cache is away.
  assert.equal((await client.get('/dashboard')).statusCode, 503)
})

test('resuming after the admin stage does not add a second install.completed audit row', { timeout: 60_000 }, async t => {
  const dir = await tempDir(t)
  const url = `file:${path.join(dir, 'app.db')}`
  await migrate({ provider: 'sqlite', migrationsDir: referenceSchema.migrationsDir('sqlite'), url })
  const admin = { username: 'admin', email: 'admin@example.com', passwordHash: await hashPassword('Correct-Horse-Battery-Staple-42') }
  assert.deepEqual(await createWizardAdmin('sqlite', url, admin, 'en', { provider: 'sqlite', cache: 'memory' }, { schema: referenceSchema, admin: adminStore }), { created: true, username: 'admin' })
  // The resumed run repeats the admin stage (the journal's stages are redone, each idempotent).
  assert.deepEqual(await createWizardAdmin('sqlite', url, { ...admin, email: 'new@example.com' }, 'en', { provider: 'sqlite', cache: 'memory' }, { schema: referenceSchema, admin: adminStore }), { created: true, username: 'admin' })
  const db = await createPrismaClient('sqlite', url)
  t.after(() => db.$disconnect())
  assert.equal(await db.auditLog.count({ where: { event: 'install.completed' } }), 1)
  assert.equal((await db.adminUser.findUnique({ where: { username: 'admin' } }))?.email, 'new@example.com', 'the account is still updated')
})
