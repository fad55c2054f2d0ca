// One behavioural suite, run against every cache backend.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import type { Cache } from '../../../server/cache/cache.ts'
import { FilesystemCache } from '../../../server/cache/filesystem.ts'
import { MemoryCache } from '../../../server/cache/memory.ts'
import { Redis } from 'ioredis'
import { RedisCache } from '../../../server/cache/redis.ts'
import { CacheSessionStore, endUserSessions } from '../../../server/cache/session-store.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { deleteByPrefix, requireRedis, SHARED_REDIS_URL } from '../../helpers/redis.ts'

type Make = (t: import('node:test').TestContext) => Promise<Cache | undefined>

/** Redis: the shared server, database 0, under a prefix of the test's own, removed afterwards. */
const redis: Make = async t => {
  if (!await requireRedis(t)) return undefined
  const prefix = `amorce-test:${process.pid}:${Math.random().toString(36).slice(2)}:`
  const cache = await RedisCache.open(`${SHARED_REDIS_URL}/0`, { prefix })
  t.after(async () => {
    // Its own connection: the test may have closed the cache's already.
    const cleaner = new Redis(`${SHARED_REDIS_URL}/0`)
    try { await deleteByPrefix(cleaner, prefix) } finally { cleaner.disconnect() }
    await cache.close()
  })
  return cache
}

const backends: Array<[string, Make]> = [
  ['memory', async () => new MemoryCache()],
  ['filesystem', async t => new FilesystemCache(path.join(await tempDir(t), 'cache'), 0)],
  ['redis', redis]
]

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

for (const [name, make] of backends) {
  test(`${name}: set, get, delete; values are copies, not shared objects`, async t => {
    const cache = await make(t)
    if (!cache) return
    t.after(() => cache.close())
    assert.equal(await cache.get('missing'), undefined)
    const value = { a: 1, list: ['é', '日本'], nested: { ok: true } }
    await cache.set('k', value)
    assert.deepEqual(await cache.get('k'), value)
    value.a = 2
    assert.equal((await cache.get<typeof value>('k'))!.a, 1)
    await cache.set('k', 'replaced')
    assert.equal(await cache.get('k'), 'replaced')
    await cache.delete('k')
    assert.equal(await cache.get('k'), undefined)
    await cache.delete('never-there')
  })

  test(`${name}: entries expire after their TTL`, async t => {
    const cache = await make(t)
    if (!cache) return
    t.after(() => cache.close())
    // Wide margins: the suite runs in parallel with others on a busy machine.
    await cache.set('short', 1, 400)
    await cache.set('long', 2, 60_000)
    await cache.set('forever', 3)
    assert.equal(await cache.get('short'), 1)
    await sleep(450)
    assert.equal(await cache.get('short'), undefined)
    assert.equal(await cache.get('long'), 2)
    assert.equal(await cache.get('forever'), 3)
  })

  test(`${name}: wrap computes once, then serves the cached value`, async t => {
    const cache = await make(t)
    if (!cache) return
    t.after(() => cache.close())
    let calls = 0
    const compute = async () => { calls++; return { n: 42 } }
    assert.deepEqual(await cache.wrap('w', 1000, compute), { n: 42 })
    assert.deepEqual(await cache.wrap('w', 1000, compute), { n: 42 })
    assert.equal(calls, 1)
  })

  test(`${name}: ping makes a real round trip`, async t => {
    const cache = await make(t)
    if (!cache) return
    t.after(() => cache.close())
    await cache.ping()
  })

  test(`${name}: increment counts in a fixed window; counter reads without counting`, async t => {
    const cache = await make(t)
    if (!cache) return
    t.after(() => cache.close())
    assert.deepEqual(await cache.counter('c'), { count: 0, ttlMs: 0 })
    const first = await cache.increment('c', 1000)
    assert.equal(first.count, 1)
    assert.ok(first.ttlMs > 0 && first.ttlMs <= 1000, `ttl ${first.ttlMs}`)
    const counts = await Promise.all(Array.from({ length: 9 }, () => cache.increment('c', 1000)))
    assert.deepEqual(counts.map(c => c.count).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9, 10], 'concurrent hits are all counted once')
    const read = await cache.counter('c')
    assert.equal(read.count, 10)
    assert.ok(read.ttlMs <= first.ttlMs, 'the window does not restart with later hits')
    assert.equal((await cache.counter('c')).count, 10, 'reading does not count')
    await sleep(1050)
    assert.deepEqual(await cache.counter('c'), { count: 0, ttlMs: 0 })
    assert.equal((await cache.increment('c', 1000)).count, 1, 'a new window starts')
  })

  test(`${name}: endUserSessions removes that user's sessions only, not other keys`, async t => {
    const cache = await make(t)
    if (!cache) return
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() }
    await cache.set('sess:a', { cookie, userId: 7 }, 60_000)
    await cache.set('sess:b', { cookie, userId: 7 }, 60_000)
    await cache.set('sess:c', { cookie, userId: 8 }, 60_000)
    await cache.set('other:d', { cookie, userId: 7 }, 60_000)
    assert.equal(await endUserSessions(cache, 7), 2)
    assert.deepEqual([await cache.get('sess:a'), await cache.get('sess:b')], [undefined, undefined])
    assert.equal((await cache.get<{ userId: number }>('sess:c'))?.userId, 8)
    assert.equal((await cache.get<{ userId: number }>('other:d'))?.userId, 7)
    assert.equal(await endUserSessions(cache, 7), 0)
  })

  test(`${name}: sessions round-trip through the session store`, async t => {
    const cache = await make(t)
    if (!cache) return
    t.after(() => cache.close())
    const store = new CacheSessionStore(cache)
    const session = { userId: 7, cookie: { expires: new Date(Date.now() + 60_000).toISOString() } }
    await new Promise<void>((resolve, reject) => store.set('sid1', session, err => err ? reject(err) : resolve()))
    const got = await new Promise((resolve, reject) => store.get('sid1', (err, s) => err ? reject(err) : resolve(s)))
    assert.deepEqual(got, session)
    await new Promise<void>((resolve, reject) => store.destroy('sid1', err => err ? reject(err) : resolve()))
    assert.equal(await new Promise(resolve => store.get('sid1', (_e, s) => resolve(s))), null)
  })
}

test('memory: bounded, the least recently used entry goes first', async () => {
  const cache = new MemoryCache(3)
  await cache.set('a', 1); await cache.set('b', 2); await cache.set('c', 3)
  await cache.get('a') // a is now the most recent
  await cache.set('d', 4)
  assert.equal(cache.size, 3)
  assert.equal(await cache.get('b'), undefined)
  assert.equal(await cache.get('a'), 1)
})

test('filesystem: writes leave no temp file, and sweep removes expired entries', async t => {
  const dir = path.join(await tempDir(t), 'cache')
  const cache = new FilesystemCache(dir, 0)
  await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`k${i}`, i, i % 2 ? 10 : 60_000)))
  const all = async () => (await Promise.all((await readdir(dir)).map(async s => readdir(path.join(dir, s))))).flat()
  assert.equal((await all()).length, 20)
  assert.ok((await all()).every(n => n.endsWith('.json')))
  await sleep(30)
  assert.equal(await cache.sweep(), 10)
  assert.equal((await all()).length, 10)
})

test('filesystem: a corrupt entry reads as a miss, not an error', async t => {
  const dir = path.join(await tempDir(t), 'cache')
  const cache = new FilesystemCache(dir, 0)
  await cache.set('k', 'v')
  const [shard] = await readdir(dir)
  const [file] = await readdir(path.join(dir, shard))
  const { writeFile } = await import('node:fs/promises')
  await writeFile(path.join(dir, shard, file), '{"expiresAt":null,"val')
  assert.equal(await cache.get('k'), undefined)
})

test('filesystem: a session file written before keys were stored is still recognized and ended', async t => {
  const dir = await tempDir(t)
  const cache = new FilesystemCache(dir, 0)
  await cache.set('sess:old', { cookie: { originalMaxAge: 1000 }, userId: 3 }, 60_000)
  await cache.set('settings:x', { userId: 3 }, 60_000)
  // Rewrite the files as the previous version wrote them: no key.
  const { readFile, writeFile } = await import('node:fs/promises')
  for (const shard of await readdir(dir)) {
    for (const name of await readdir(path.join(dir, shard))) {
      const file = path.join(dir, shard, name)
      const stored = JSON.parse(await readFile(file, 'utf8'))
      delete stored.key
      await writeFile(file, JSON.stringify(stored))
    }
  }
  assert.equal(await endUserSessions(cache, 3), 1)
  assert.equal(await cache.get('sess:old'), undefined)
  assert.deepEqual(await cache.get('settings:x'), { userId: 3 })
})
