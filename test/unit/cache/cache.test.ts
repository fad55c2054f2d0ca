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

/** A clock of the test's own: time moves only when the test says so. */
class ManualClock {
  ms = Date.UTC(2026, 0, 1)
  readonly now = () => this.ms
  advance (ms: number): void { this.ms += ms }
}

/** A backend under test; `clock` when it reads the time from us (Redis keeps its own). */
interface Made { cache: Cache, clock?: ManualClock }
type Make = (t: import('node:test').TestContext) => Promise<Made | undefined>

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
  return { cache }
}

const backends: Array<[string, Make]> = [
  ['memory', async () => { const clock = new ManualClock(); return { cache: new MemoryCache(10_000, { now: clock.now }), clock } }],
  ['filesystem', async t => { const clock = new ManualClock(); return { cache: new FilesystemCache(path.join(await tempDir(t), 'cache'), 0, { now: clock.now }), clock } }],
  ['redis', redis]
]

/** Polls until `check` holds (Redis expires keys on its own time); fails after `ms`. */
async function eventually (what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** The time Redis has left on one of the cache's keys (-1: none, -2: no such key). */
const redisPttl = (cache: Cache, key: string) => (cache as RedisCache).client.pttl((cache as RedisCache).prefix + key)

for (const [name, make] of backends) {
  test(`${name}: set, get, delete; values are copies, not shared objects`, async t => {
    const made = await make(t)
    if (!made) return
    const { cache } = made
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
    const made = await make(t)
    if (!made) return
    const { cache, clock } = made
    t.after(() => cache.close())
    await cache.set('short', 1, 400)
    await cache.set('long', 2, 60_000)
    await cache.set('forever', 3)
    if (clock) {
      clock.advance(399)
      assert.equal(await cache.get('short'), 1, 'still there 1 ms before its end')
      clock.advance(1)
      assert.equal(await cache.get('short'), undefined, 'gone at its end')
      assert.equal(await cache.get('long'), 2)
      clock.advance(59_600)
      assert.equal(await cache.get('long'), undefined)
      assert.equal(await cache.get('forever'), 3)
    } else {
      // Redis keeps the time: the TTLs are read where they are stored, then the expiry is awaited.
      const short = await redisPttl(cache, 'short')
      assert.ok(short > 0 && short <= 400, `short: ${short} ms left`)
      const long = await redisPttl(cache, 'long')
      assert.ok(long > 400 && long <= 60_000, `long: ${long} ms left`)
      assert.equal(await redisPttl(cache, 'forever'), -1, 'no expiry')
      await eventually('the short entry expires', async () => await cache.get('short') === undefined)
      assert.equal(await cache.get('long'), 2)
      assert.equal(await cache.get('forever'), 3)
    }
  })

  test(`${name}: wrap computes once, then serves the cached value`, async t => {
    const made = await make(t)
    if (!made) return
    const { cache } = made
    t.after(() => cache.close())
    let calls = 0
    const compute = async () => { calls++; return { n: 42 } }
    assert.deepEqual(await cache.wrap('w', 1000, compute), { n: 42 })
    assert.deepEqual(await cache.wrap('w', 1000, compute), { n: 42 })
    assert.equal(calls, 1)
  })

  test(`${name}: ping makes a real round trip`, async t => {
    const made = await make(t)
    if (!made) return
    const { cache } = made
    t.after(() => cache.close())
    await cache.ping()
  })

  test(`${name}: increment counts in a fixed window; counter reads without counting`, async t => {
    const made = await make(t)
    if (!made) return
    const { cache, clock } = made
    t.after(() => cache.close())
    // A window far longer than the test on Redis, whose clock runs meanwhile; exact on a test clock.
    const windowMs = clock ? 1000 : 60_000
    assert.deepEqual(await cache.counter('c'), { count: 0, ttlMs: 0 })
    const first = await cache.increment('c', windowMs)
    assert.equal(first.count, 1)
    assert.ok(first.ttlMs > 0 && first.ttlMs <= windowMs, `ttl ${first.ttlMs}`)
    const counts = await Promise.all(Array.from({ length: 9 }, () => cache.increment('c', windowMs)))
    assert.deepEqual(counts.map(c => c.count).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9, 10], 'concurrent hits are all counted once')
    clock?.advance(600)
    const read = await cache.counter('c')
    assert.equal(read.count, 10)
    assert.ok(read.ttlMs <= first.ttlMs, 'the window does not restart with later hits')
    if (clock) assert.equal(read.ttlMs, 400)
    assert.equal((await cache.counter('c')).count, 10, 'reading does not count')
    if (clock) {
      clock.advance(399)
      assert.equal((await cache.increment('c', windowMs)).count, 11, 'still the same window 1 ms before its end')
      clock.advance(1)
      assert.deepEqual(await cache.counter('c'), { count: 0, ttlMs: 0 })
      assert.deepEqual(await cache.increment('c', windowMs), { count: 1, ttlMs: 1000 }, 'a new window starts')
    } else {
      // The end of a window, on Redis's own time: a short one on another key, awaited.
      assert.equal((await cache.increment('e', 200)).count, 1)
      assert.equal((await cache.increment('e', 200)).count, 2)
      await eventually('the window ends', async () => (await cache.counter('e')).count === 0)
      assert.deepEqual(await cache.counter('e'), { count: 0, ttlMs: 0 })
      assert.equal((await cache.increment('e', 200)).count, 1, 'a new window starts')
    }
  })

  test(`${name}: endUserSessions removes that user's sessions only, not other keys`, async t => {
    const made = await make(t)
    if (!made) return
    const { cache } = made
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
    const made = await make(t)
    if (!made) return
    const { cache } = made
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
  const clock = new ManualClock()
  const cache = new FilesystemCache(dir, 0, { now: clock.now })
  await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`k${i}`, i, i % 2 ? 10 : 60_000)))
  const all = async () => (await Promise.all((await readdir(dir)).map(async s => readdir(path.join(dir, s))))).flat()
  assert.equal((await all()).length, 20)
  assert.ok((await all()).every(n => n.endsWith('.json')))
  assert.equal(await cache.sweep(), 0, 'nothing has expired yet')
  clock.advance(10)
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
