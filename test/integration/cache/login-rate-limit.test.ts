// Login throttling on every cache backend: 5 failed attempts per 15 minutes for one address and
// one login name, then a localized 429 page; successes do not count; other names are not locked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client, tempDir, text } from '../../helpers/app.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../../helpers/redis.ts'
import { LOGIN_MAX_FAILURES } from '../../../server/app/routes.ts'
import { ADMIN, installedApp } from './installed.ts'

for (const backend of ['memory', 'filesystem', 'redis'] as const) {
  test(`${backend}: the sixth failed login is refused with 429 and a localized page; successes do not count`, async t => {
    let redisUrl: string | undefined
    if (backend === 'redis') {
      // A Redis of the test's own: counters of other runs (this suite's or anyone's) cannot interfere.
      if (!await requireRedisServerBinary(t)) return
      redisUrl = `${(await startPrivateRedis(t)).url}/0`
    }
    const dir = await tempDir(t)
    const { app } = await installedApp(t, dir, { backend, redisUrl })
    assert.equal(app.amorce.runtime!.cache.backend, backend)

    const client = new Client(app, { 'accept-language': 'fr' })
    await client.get('/login')
    // A success first: it is not an attempt against the limit.
    const ok = await client.post('/login', { login: ADMIN.username, password: ADMIN.password })
    assert.equal(ok.statusCode, 303)
    await client.post('/logout', {})
    await client.get('/login') // a new session, and its CSRF token

    for (let i = 1; i <= LOGIN_MAX_FAILURES; i++) {
      const res = await client.post('/login', { login: ADMIN.username, password: `wrong-${i}` })
      assert.equal(res.statusCode, 401, `attempt ${i}`)
    }
    const blocked = await client.post('/login', { login: ADMIN.username, password: ADMIN.password })
    assert.equal(blocked.statusCode, 429, 'even the right password waits')
    assert.match(text(blocked), /Trop de tentatives de connexion échouées pour ce compte depuis votre adresse\. Réessayez dans 15 min\./)
    const retry = Number(blocked.headers['retry-after'])
    assert.ok(retry > 14 * 60 && retry <= 15 * 60, `Retry-After ${retry}`)

    // Another login name from the same address is not locked out (it fails on its own merits).
    const other = await client.post('/login', { login: 'someone-else', password: 'whatever-123' })
    assert.equal(other.statusCode, 401)
    // Case and spaces do not make a new name.
    const variant = await client.post('/login', { login: ' ADMIN ', password: 'x-wrong' })
    assert.equal(variant.statusCode, 429)
  })
}
