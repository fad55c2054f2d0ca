// Redis stopped and restarted under a running app: /health goes 503 "cache":"down" and pages that
// need a session answer a localized 503 at once (no hanging request), then everything comes back
// without restarting the app.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { build, Client, tempDir, text } from '../../helpers/app.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../../helpers/redis.ts'
import { ADMIN, installedApp } from './installed.ts'

test('Redis goes away and comes back: health 200 → 503 → 200, a 503 page meanwhile, no restart', { timeout: 60_000 }, async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t)
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, { backend: 'redis', redisUrl: `${redis.url}/0` })
  const runtime = app.amorce.runtime

  const client = new Client(app, { 'accept-language': 'fr' })
  await client.get('/login')
  assert.equal((await client.post('/login', { login: ADMIN.username, password: ADMIN.password })).statusCode, 303)
  assert.equal((await client.get('/dashboard')).statusCode, 200)
  assert.deepEqual((await app.inject('/health')).json(), { status: 'ok', db: 'ok', cache: 'ok' })

  await redis.stop()
  let started = performance.now()
  const down = await app.inject('/health')
  assert.equal(down.statusCode, 503)
  assert.deepEqual(down.json(), { status: 'error', db: 'ok', cache: 'down' })
  const page = await client.get('/dashboard')
  const ms = performance.now() - started
  assert.equal(page.statusCode, 503)
  assert.match(text(page), /L’application est installée, mais son cache est injoignable\./)
  // Not hanging: a request waiting for Redis would take the reconnection's whole course (tens of
  // seconds) or forever; the bound is loose for a loaded machine, not a speed goal.
  assert.ok(ms < 10_000, `answered in ${Math.round(ms)} ms, not hanging`)
  // A new visitor's sign-in page needs a session (its CSRF secret) too: the same clear 503.
  const fresh = await new Client(app).get('/login')
  assert.equal(fresh.statusCode, 503)
  assert.match(text(fresh), /its cache cannot be reached/)

  await redis.start()
  started = performance.now()
  let back = await app.inject('/health')
  while (back.statusCode !== 200 && performance.now() - started < 15_000) {
    await new Promise(resolve => setTimeout(resolve, 100))
    back = await app.inject('/health')
  }
  console.log(`# health back to 200 ${Math.round(performance.now() - started)} ms after Redis restarted`)
  assert.equal(back.statusCode, 200)
  assert.equal(app.amorce.runtime, runtime, 'the same runtime: the app was not restarted')
  assert.equal(app.amorce.mode, 'normal')

  // This Redis kept nothing (no persistence): the session is gone, so sign in again, and it works.
  const after = await client.get('/dashboard')
  assert.equal(after.statusCode, 303)
  await client.get('/login')
  assert.equal((await client.post('/login', { login: ADMIN.username, password: ADMIN.password })).statusCode, 303)
  assert.equal((await client.get('/dashboard')).statusCode, 200)
})

test('Redis down when the app starts: 503 "cache" (never the wizard), then normal mode once Redis answers', { timeout: 60_000 }, async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t)
  const dir = await tempDir(t)
  await installedApp(t, dir, { backend: 'redis', redisUrl: `${redis.url}/0` })
  await redis.stop()

  // A second start of the same install while Redis is away.
  const { app } = await build(t, { dir })
  assert.equal(app.amorce.mode, 'unavailable')
  assert.equal(app.amorce.unavailable?.part, 'cache')
  const health = await app.inject('/health')
  assert.equal(health.statusCode, 503)
  assert.equal(health.json().cache, 'down')
  const page = await app.inject({ url: '/login', headers: { 'accept-language': 'en' } })
  assert.equal(page.statusCode, 503)
  assert.match(text(page), /its cache cannot be reached/)
  assert.equal((await app.inject('/setup/language')).statusCode, 404, 'never the wizard')

  await redis.start()
  const started = performance.now()
  let res = await app.inject('/health')
  // Unavailable mode retries on requests, at most every 5 s.
  while (res.statusCode !== 200 && performance.now() - started < 20_000) {
    await new Promise(resolve => setTimeout(resolve, 250))
    res = await app.inject('/login')
    res = await app.inject('/health')
  }
  assert.equal(res.statusCode, 200)
  assert.equal(app.amorce.mode, 'normal')
})
