// Platforms that provide the configuration (Render, Docker, cPanel variables): the real environment
// answers steps, which the wizard shows read-only and never writes to .env; with ADMIN_* as well the
// first start installs by itself; and the install lock kept in the database survives a lost .env.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Writable } from 'node:stream'
import dotenv from 'dotenv'
import { buildApp } from '../../../server/app.ts'
import { runUnattended } from '../../../server/setup/unattended.ts'
import { authorizedClient, build, Client, STRONG_PASSWORD, tempDir, text } from '../../helpers/app.ts'
import { startServer } from '../../helpers/server.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../../helpers/redis.ts'

const ADMIN_PASSWORD = 'Unattended-Lanterne-Ardoise-77'

test('DATABASE_* from the environment: the database step is read-only, skipped, and not written to .env', async t => {
  const dir = await tempDir(t)
  const dbFile = path.join(dir, 'platform.db')
  const { app } = await build(t, { dir, env: { DATABASE_PROVIDER: 'sqlite', DATABASE_URL: `file:${dbFile}` } })
  const client = await authorizedClient(app)
  assert.equal((await client.post('/setup/language', { language: 'en', _action: 'next' })).headers.location, '/setup/prerequisites')
  assert.equal((await client.post('/setup/prerequisites', { _action: 'next' })).headers.location, '/setup/cache', 'the answered step is passed over')

  const page = await client.get('/setup/database')
  assert.equal(page.statusCode, 200)
  assert.match(text(page), /come from the server's environment variables/)
  assert.match(page.body, /<fieldset class="locked" disabled>/)
  assert.ok(page.body.includes(dbFile))
  // Whatever the form sends, the environment's answer stands.
  const other = await client.post('/setup/database', { provider: 'sqlite', file: path.join(dir, 'other.db'), _action: 'next' })
  assert.equal(other.headers.location, '/setup/cache')

  for (const [step, form] of [['cache', { backend: 'memory' }], ['restore', { mode: 'fresh' }], ['admin', { username: 'admin', email: 'admin@example.com', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD }]] as const) {
    assert.equal((await client.post(`/setup/${step}`, { ...form, _action: 'next' })).statusCode, 303, step)
  }
  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(install.body, /install-done/)
  assert.equal(app.amorce.mode, 'normal')
  await stat(dbFile)
  await assert.rejects(stat(path.join(dir, 'other.db')))
  const written = dotenv.parse(await readFile(path.join(dir, '.env'), 'utf8'))
  assert.equal(written.DATABASE_URL, undefined)
  assert.equal(written.DATABASE_PROVIDER, undefined)
  assert.equal(written.CACHE_BACKEND, 'memory')
  assert.ok(written.APP_INSTALLED_AT)
})

test('everything from the environment, ADMIN_* included: installs without the browser; the lock in the database survives a lost .env', async t => {
  const dir = await tempDir(t)
  const env: NodeJS.ProcessEnv = {
    DATA_DIR: path.join(dir, 'data'),
    ENV_FILE: path.join(dir, '.env'),
    DATABASE_PROVIDER: 'sqlite',
    DATABASE_URL: `file:${path.join(dir, 'data', 'app.db')}`,
    CACHE_BACKEND: 'filesystem',
    CACHE_DIR: path.join(dir, 'data', 'cache'),
    SESSION_SECRET: 's'.repeat(48),
    APP_LOCALE: 'fr',
    ADMIN_USERNAME: 'platform-admin',
    ADMIN_EMAIL: 'ops@example.org',
    ADMIN_PASSWORD
  }
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const app = await buildApp({ env, cwd: dir, logger: { level: 'trace', stream } })
  t.after(() => app.close())
  assert.equal(app.amorce.mode, 'setup')
  const result = await runUnattended(app, app.amorce.lifecycle!, env)
  assert.equal(result, 'installed', lines.slice(-5).join(''))
  assert.equal(app.amorce.mode, 'normal')
  assert.ok(lines.some(l => l.includes('installed from the environment')))
  for (const line of lines) {
    assert.ok(!line.includes(ADMIN_PASSWORD), `the admin password in the log: ${line.slice(0, 200)}`)
    assert.ok(!line.includes('s'.repeat(48)), 'the session secret in the log')
  }
  // Only what the environment does not set is written: the lock.
  const written = dotenv.parse(await readFile(path.join(dir, '.env'), 'utf8'))
  assert.deepEqual(Object.keys(written).sort(), ['APP_INSTALLED_AT'])

  const client = new Client(app)
  const login = await client.post('/login', { login: 'platform-admin', password: ADMIN_PASSWORD })
  assert.equal(login.headers.location, '/dashboard')
  assert.match(text(await client.get('/dashboard')), /Connecté\u00a0: platform-admin|Signed in as platform-admin/)
  await app.close()

  // A new container: the disk (and the .env with its lock) is gone, the environment and database remain.
  await rm(path.join(dir, '.env'))
  const again = await build(t, { dir, env })
  assert.equal(again.app.amorce.mode, 'normal', 'the lock kept in the database')
  assert.equal((await again.app.inject('/setup')).statusCode, 404)
  assert.equal((await runUnattended(again.app, again.app.amorce.lifecycle!, env)), 'notRequested')
})

test('a weak ADMIN_PASSWORD stops the unattended install with the reason; the wizard stays open; nothing secret logged', async t => {
  const dir = await tempDir(t)
  const env: NodeJS.ProcessEnv = {
    DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'),
    DATABASE_PROVIDER: 'sqlite', DATABASE_URL: `file:${path.join(dir, 'data', 'app.db')}`, CACHE_BACKEND: 'memory',
    ADMIN_USERNAME: 'admin', ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'password123'
  }
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const app = await buildApp({ env, cwd: dir, logger: { level: 'info', stream } })
  t.after(() => app.close())
  assert.equal(await runUnattended(app, app.amorce.lifecycle!, env), 'failed')
  assert.equal(app.amorce.mode, 'setup')
  const stop = lines.find(l => l.includes('unattended install stopped at the admin step'))
  assert.ok(stop, lines.join(''))
  assert.match(stop, /too easy to guess/)
  assert.ok(!lines.join('').includes('password123'))
  await assert.rejects(stat(path.join(dir, '.env')), 'nothing written')
})

test('npm start with everything in the environment installs at first start and serves normal mode', { timeout: 60_000 }, async t => {
  const dir = await tempDir(t)
  const server = await startServer(t, {
    DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'),
    DATABASE_PROVIDER: 'sqlite', DATABASE_URL: `file:${path.join(dir, 'data', 'app.db')}`, CACHE_BACKEND: 'memory',
    ADMIN_USERNAME: 'admin', ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD
  }, dir)
  const deadline = Date.now() + 30_000
  while (!/installed from the environment: sign in at/.test(server.output()) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  assert.match(server.output(), /installed from the environment: sign in at http:\/\/\S+\/login/)
  assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: 'ok', db: 'ok', cache: 'ok' })
  assert.ok(!server.output().includes(ADMIN_PASSWORD))
})

test('an unattended install refuses a non-empty Redis database unless CACHE_REDIS_ALLOW_NONEMPTY=true', { timeout: 60_000 }, async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t)
  const { Redis } = await import('ioredis')
  const raw = new Redis(`${redis.url}/1`, { lazyConnect: true })
  t.after(() => raw.disconnect())
  await raw.set('someone-else', '1')
  for (const allow of [false, true]) {
    const dir = await tempDir(t)
    const env: NodeJS.ProcessEnv = {
      DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'),
      DATABASE_PROVIDER: 'sqlite', DATABASE_URL: `file:${path.join(dir, 'data', 'app.db')}`,
      CACHE_BACKEND: 'redis', REDIS_URL: `${redis.url}/1`,
      ADMIN_USERNAME: 'admin', ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD,
      ...(allow ? { CACHE_REDIS_ALLOW_NONEMPTY: 'true' } : {})
    }
    const lines: string[] = []
    const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
    const app = await buildApp({ env, cwd: dir, logger: { level: 'info', stream } })
    t.after(() => app.close())
    const outcome = await runUnattended(app, app.amorce.lifecycle!, env)
    if (!allow) {
      assert.equal(outcome, 'failed')
      const stop = lines.find(l => l.includes('unattended install stopped at the cache step'))
      assert.ok(stop, lines.join(''))
      assert.match(stop, /Database 1 of this Redis is not empty \(1 key\).*CACHE_REDIS_ALLOW_NONEMPTY=true/)
    } else {
      assert.equal(outcome, 'installed', lines.join(''))
    }
  }
  assert.equal(await raw.get('someone-else'), '1')
})
