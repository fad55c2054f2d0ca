// The Redis connection test names every cause for real: a closed port, a listener that never
// answers, an unknown host, a private Redis with a password, a missing database, TLS both ways.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { evictionRisk, parseRedisUrl, probeRedis, redactRedisUrl, redisUrl } from '../../../server/cache/redis-probe.ts'
import { requireRedis, requireRedisServerBinary, SHARED_REDIS_URL, startPrivateRedis } from '../../helpers/redis.ts'
import { requireService } from '../../helpers/services.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { refusedPort, tcpListener } from '../../helpers/net.ts'

test('URLs: parsed and rebuilt, passwords percent-encoded and never shown', () => {
  const t = parseRedisUrl('rediss://app:p%40ss%3Aw0rd@cache.example.com:6380/3')
  assert.deepEqual(t, { host: 'cache.example.com', port: 6380, db: 3, tls: true, username: 'app', password: 'p@ss:w0rd' })
  assert.deepEqual(parseRedisUrl(redisUrl(t)), t)
  assert.equal(redactRedisUrl(t), 'rediss://app:***@cache.example.com:6380/3')
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1'), { host: '127.0.0.1', port: 6379, db: 0, tls: false })
  assert.equal(parseRedisUrl('redis://[::1]:7000/1').host, '::1')
  assert.equal(redisUrl(parseRedisUrl('redis://[::1]:7000/1')), 'redis://[::1]:7000/1')
  for (const bad of ['http://x', 'redis://', 'redis://h/abc', 'not a url']) assert.throws(() => parseRedisUrl(bad), bad)
})

test('eviction: every policy but noeviction may drop sessions (they all carry a TTL)', () => {
  assert.equal(evictionRisk('noeviction'), false)
  for (const p of ['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl']) assert.equal(evictionRisk(p), true, p)
})

test('connected: version, latency, and no eviction warning under noeviction', async t => {
  if (!await requireRedis(t)) return
  const r = await probeRedis(`${SHARED_REDIS_URL}/0`)
  assert.ok(r.ok, JSON.stringify(r))
  assert.match(r.version, /^\d+\.\d+/)
  assert.ok(r.latencyMs >= 0 && r.latencyMs < 1000)
  assert.equal(r.passwordIgnored, false)
})

test('refused: nothing listens on the port', async () => {
  const r = await probeRedis(`redis://127.0.0.1:${await refusedPort()}`)
  assert.equal(r.ok, false)
  assert.equal(!r.ok && r.reason, 'refused')
})

test('timeout: a listener that accepts and never answers, bounded by the time limit', async t => {
  const port = await tcpListener(t, () => {})
  const started = performance.now()
  const r = await probeRedis(`redis://127.0.0.1:${port}`, 500)
  const ms = performance.now() - started
  assert.equal(!r.ok && r.reason, 'timeout')
  assert.ok(ms >= 450 && ms < 1500, `${ms} ms`)
})

test('dns: a host name that does not exist', async () => {
  const r = await probeRedis('redis://no-such-host.invalid:6379')
  assert.equal(!r.ok && r.reason, 'dns')
})

test('notRedis: something else answers on the port', async t => {
  const port = await tcpListener(t, s => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')))
  const r = await probeRedis(`redis://127.0.0.1:${port}`)
  assert.equal(!r.ok && r.reason, 'notRedis')
})

test('dbOutOfRange: database index 99', async t => {
  if (!await requireRedis(t)) return
  const r = await probeRedis(`${SHARED_REDIS_URL}/99`)
  assert.equal(!r.ok && r.reason, 'dbOutOfRange')
})

test('passwordIgnored: a password given to a Redis that has none is reported, not fatal', async t => {
  if (!await requireRedis(t)) return
  const target = { ...parseRedisUrl(SHARED_REDIS_URL), password: 'unneeded' }
  const r = await probeRedis(target)
  assert.ok(r.ok && r.passwordIgnored, JSON.stringify(r))
})

test('authRequired and wrongPassword: a private Redis started with --requirepass', async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t, ['--requirepass', 's3cret-Pw'])
  const none = await probeRedis(redis.url)
  assert.equal(!none.ok && none.reason, 'authRequired')
  const wrong = await probeRedis({ ...parseRedisUrl(redis.url), password: 'not-the-password' })
  assert.equal(!wrong.ok && wrong.reason, 'wrongPassword')
  assert.ok(!JSON.stringify(wrong).includes('s3cret-Pw'))
  const right = await probeRedis({ ...parseRedisUrl(redis.url), password: 's3cret-Pw' })
  assert.ok(right.ok, JSON.stringify(right))
  const userWrong = await probeRedis({ ...parseRedisUrl(redis.url), username: 'nobody', password: 's3cret-Pw' })
  assert.equal(!userWrong.ok && userWrong.reason, 'wrongPassword')
})

test('eviction warning: a Redis that may evict keys when full', async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t, ['--maxmemory', '16mb', '--maxmemory-policy', 'allkeys-lru'])
  const r = await probeRedis(redis.url)
  assert.ok(r.ok, JSON.stringify(r))
  assert.equal(r.maxmemoryPolicy, 'allkeys-lru')
  assert.equal(r.maxmemory, 16 * 1024 * 1024)
  assert.equal(r.evictionRisk, true)
})

test('tlsMismatch, both ways, and an untrusted certificate: a private Redis on TLS', async t => {
  if (!await requireRedisServerBinary(t)) return
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0
  if (!requireService(t, 'openssl (to make a test certificate)', hasOpenssl, 'apt-get install -y openssl')) return
  const dir = await tempDir(t)
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'])
  assert.equal(made.status, 0, String(made.stderr))
  const { tlsPort } = await startPrivateRedis(t, port => ['--tls-port', String(port), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'])

  // Plain text to a TLS port: the server drops the connection.
  const plain = await probeRedis(`redis://127.0.0.1:${tlsPort}`)
  assert.equal(!plain.ok && plain.reason, 'tlsMismatch', JSON.stringify(plain))
  // A TLS handshake to a plain Redis never completes.
  if (await requireRedis(t)) {
    const tls = await probeRedis(SHARED_REDIS_URL.replace(/^redis:/, 'rediss:'), 800)
    assert.equal(!tls.ok && tls.reason, 'tlsMismatch', JSON.stringify(tls))
  }
  // TLS on both sides, but a self-signed certificate: named as such.
  const cert2 = await probeRedis(`rediss://localhost:${tlsPort}`)
  assert.equal(!cert2.ok && cert2.reason, 'tlsCertificate', JSON.stringify(cert2))
})
