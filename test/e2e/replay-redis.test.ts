// The replay with a Redis cache: a fresh server, the wizard walked in headless Chromium with
// "cache": { "backend": "redis", "url": … }, ending signed in with the session held in Redis.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Redis } from 'ioredis'
import { chromiumPath } from '../helpers/services.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../helpers/redis.ts'
import { freshServer, runReplay, writeAnswers } from '../helpers/server.ts'

const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'

// Independent tests (a Redis, a server, a directory each), each waiting mostly on its replay: run together.
describe('replay with Redis', { concurrency: 2 }, () => {
  test('replay with a Redis cache: installed, .env names Redis, the session lives in Redis', { timeout: 600_000 }, async t => {
    const browser = chromiumPath(t)
    if (!browser) return
    // A Redis of the test's own: no other run's sessions in it, nothing left behind.
    if (!await requireRedisServerBinary(t)) return
    const redisUrl = `${(await startPrivateRedis(t)).url}/3`
    const redis = new Redis(redisUrl)
    t.after(() => redis.disconnect())

    const { dir, env, server } = await freshServer(t, browser)
    const answers = await writeAnswers(dir, {
      language: 'en',
      database: { provider: 'sqlite', file: 'data/app.db' },
      cache: { backend: 'redis', url: redisUrl },
      admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
    })
    const started = performance.now()
    const run = await runReplay([answers, '--url', server.url], { ...env, ADMIN_PASSWORD: PASSWORD }, dir)
    assert.equal(run.code, 0, run.out)
    console.log(`# replay with Redis: ${((performance.now() - started) / 1000).toFixed(1)} s`)
    assert.match(run.out, /✓ cache\s+\d+\.\d+ s/)

    const dotenv = await readFile(path.join(dir, '.env'), 'utf8')
    assert.match(dotenv, /^CACHE_BACKEND=redis$/m)
    assert.match(dotenv, new RegExp(`^REDIS_URL=${redisUrl.replace(/[/.]/g, '\\$&')}$`, 'm'))
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: 'ok', db: 'ok', cache: 'ok' })
    // The signed-in session of the replay is a key in Redis.
    const sessions = await redis.keys('amorce:sess:*')
    assert.ok(sessions.length >= 1, 'a session is stored in Redis')
  })

  test('replay with a password-protected Redis: the password comes from the environment and shows nowhere', { timeout: 600_000 }, async t => {
    const browser = chromiumPath(t)
    if (!browser) return
    if (!await requireRedisServerBinary(t)) return
    const secret = 'Redis-P@ss:w0rd/7'
    const redis = await startPrivateRedis(t, ['--requirepass', secret])
    const { dir, env, server } = await freshServer(t, browser)
    const answers = await writeAnswers(dir, {
      language: 'fr',
      database: { provider: 'sqlite', file: 'data/app.db' },
      cache: { backend: 'redis', url: `${redis.url}/0`, password: '${REDIS_PASSWORD}' },
      admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
    })
    const run = await runReplay([answers, '--url', server.url], { ...env, ADMIN_PASSWORD: PASSWORD, REDIS_PASSWORD: secret }, dir)
    assert.equal(run.code, 0, run.out)
    assert.ok(!run.out.includes(secret) && !server.output().includes(secret), 'the Redis password is never printed nor logged')
    const dotenv = await readFile(path.join(dir, '.env'), 'utf8')
    assert.match(dotenv, new RegExp(`^REDIS_URL=.*:${encodeURIComponent(secret).replace(/[%.]/g, '\\$&')}@127\\.0\\.0\\.1:${redis.port}/0`, 'm'), 'percent-encoded in the .env')
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: 'ok', db: 'ok', cache: 'ok' })
  })
})
