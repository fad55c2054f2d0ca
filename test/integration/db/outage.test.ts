// The database lost under a running app, and an app started while it is down: every page that
// needs it answers the localized 503 page with Retry-After (never a 500), the start-up names the
// connection problem, and the app recovers by itself once the server is back. The outage is a
// proxy of the test's own, cut and restored: the shared PostgreSQL server keeps running.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { buildApp } from '../../../server/app.ts'
import { hashPassword } from '../../../server/auth/password.ts'
import { Client, tempDir, text } from '../../helpers/app.ts'
import { createDatabase, requireServer, urlOf } from '../../helpers/databases.ts'
import { tcpProxy } from '../../helpers/net.ts'
import { ADMIN, installedEnv, writeEnv } from '../cache/installed.ts'

async function installedOnProxy (t: TestContext, opts: { user?: string, listening?: boolean } = {}) {
  const db = await createDatabase(t, 'postgresql')
  const proxy = await tcpProxy(t, { host: db.host, port: db.port }, { listening: opts.listening })
  const dir = await tempDir(t)
  await mkdir(path.join(dir, 'data'), { recursive: true })
  const url = urlOf({ ...db, host: '127.0.0.1', port: proxy.port, user: opts.user ?? db.user })
  const env = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), LOG_LEVEL: 'silent' }
  await writeEnv(env.ENV_FILE, installedEnv(dir, { backend: 'memory' }, { provider: 'postgresql', url }))
  const app = await buildApp({ env, cwd: dir, logger: false, retryUnavailableMs: 50 })
  t.after(() => app.close())
  return { app, proxy }
}

/** Polls `url` until it answers `status` (the app recovering by itself), within a deadline. */
async function until (client: Client, url: string, status: number, ms = 20_000) {
  const deadline = Date.now() + ms
  let res = await client.get(url)
  while (res.statusCode !== status && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
    res = await client.get(url)
  }
  return res
}

function assertUnavailable (res: { statusCode: number, headers: Record<string, unknown>, body: string }, pattern: RegExp, what: string) {
  assert.equal(res.statusCode, 503, `${what}: ${res.statusCode} ${res.body.slice(0, 200)}`)
  assert.ok(Number(res.headers['retry-after']) > 0, `${what}: Retry-After`)
  assert.match(String(res.headers['content-type']), /text\/html/, what)
  assert.match(text(res), pattern, what)
}

test('database lost while the app runs: localized 503 with Retry-After on every page needing it, then back by itself', { timeout: 90_000 }, async t => {
  if (!await requireServer(t, 'postgresql')) return
  const { app, proxy } = await installedOnProxy(t)
  assert.equal(app.amorce.mode, 'normal')
  await app.amorce.runtime!.db.adminUser.create({ data: { username: ADMIN.username, email: ADMIN.email, passwordHash: await hashPassword(ADMIN.password) } })

  const fr = new Client(app, { 'accept-language': 'fr' })
  await fr.get('/login')
  assert.equal((await fr.post('/login', { login: ADMIN.username, password: ADMIN.password })).statusCode, 303)
  assert.equal((await fr.get('/dashboard')).statusCode, 200)
  const en = new Client(app, { 'accept-language': 'en' })
  await en.get('/login')

  await proxy.stop()
  assertUnavailable(await fr.get('/dashboard'), /sa base de données est injoignable/, 'GET /dashboard (fr)')
  assertUnavailable(await fr.post('/settings/instance-name', { instanceName: 'x' }), /sa base de données est injoignable/, 'POST /settings/instance-name (fr)')
  assertUnavailable(await en.post('/login', { login: ADMIN.username, password: ADMIN.password }), /its database cannot be reached/, 'POST /login (en)')
  const health = await app.inject('/health')
  assert.equal(health.statusCode, 503)
  assert.equal(health.json().db, 'down')

  await proxy.start()
  assert.equal((await until(fr, '/dashboard', 200)).statusCode, 200, 'the dashboard is back without a restart')
  assert.equal((await en.post('/login', { login: ADMIN.username, password: ADMIN.password })).statusCode, 303, 'sign-in works again')
  assert.equal((await app.inject('/health')).statusCode, 200)
})

test('started while the database is down: the page names the connection problem (not a failed update), then normal mode', { timeout: 90_000 }, async t => {
  if (!await requireServer(t, 'postgresql')) return
  const { app, proxy } = await installedOnProxy(t, { listening: false })
  assert.equal(app.amorce.mode, 'unavailable')
  assert.equal(app.amorce.unavailable?.part, 'db')
  assert.equal(app.amorce.unavailable?.cause, 'refused')
  const en = await app.inject({ url: '/login', headers: { 'accept-language': 'en' } })
  assertUnavailable(en, /its database cannot be reached/, 'en')
  assert.match(text(en), /refuses connections/)
  assert.doesNotMatch(text(en), /updating its database failed/)
  const fr = await app.inject({ url: '/dashboard', headers: { 'accept-language': 'fr' } })
  assertUnavailable(fr, /refuse les connexions/, 'fr')
  assert.doesNotMatch(text(fr), /mise à jour/)

  await proxy.start()
  const res = await until(new Client(app), '/login', 200)
  assert.equal(res.statusCode, 200)
  assert.equal(app.amorce.mode, 'normal')
})

test('started with an account the server refuses: the cause is the user or password, in both languages', { timeout: 60_000 }, async t => {
  if (!await requireServer(t, 'postgresql')) return
  const { app } = await installedOnProxy(t, { user: 'amorce_no_such_role' })
  assert.equal(app.amorce.mode, 'unavailable')
  assert.equal(app.amorce.unavailable?.cause, 'authFailed')
  assert.match(text(await app.inject({ url: '/login', headers: { 'accept-language': 'en' } })), /refuses the user name or the password/)
  assert.match(text(await app.inject({ url: '/login', headers: { 'accept-language': 'fr' } })), /refuse le nom d’utilisateur ou le mot de passe/)
})
