// One behavioural suite, run against every cache backend.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import type { Cache } from '../../../server/cache/cache.ts'
import { FilesystemCache } from '../../../server/cache/filesystem.ts'
import { MemoryCache } from '../../../server/cache/memory.ts'
import { CacheSessionStore } from '../../../server/cache/session-store.ts'
import { tempDir } from '../../helpers/tmp.ts'

const backends: Array<[string, (t: import('node:test').TestContext) => Promise<Cache>]> = [
  ['memory', async () => new MemoryCache()],
  ['filesystem', async t => new FilesystemCache(path.join(await tempDir(t), 'cache'), 0)]
]

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

for (const [name, make] of backends) {
  test(`${name}: set, get, delete; values are copies, not shared objects`, async t => {
    const cache = await make(t)
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
    t.after(() => cache.close())
    await cache.set('short', 1, 30)
    await cache.set('long', 2, 60_000)
    await cache.set('forever', 3)
    assert.equal(await cache.get('short'), 1)
    await sleep(60)
    assert.equal(await cache.get('short'), undefined)
    assert.equal(await cache.get('long'), 2)
    assert.equal(await cache.get('forever'), 3)
  })

  test(`${name}: wrap computes once, then serves the cached value`, async t => {
    const cache = await make(t)
    t.after(() => cache.close())
    let calls = 0
    const compute = async () => { calls++; return { n: 42 } }
    assert.deepEqual(await cache.wrap('w', 1000, compute), { n: 42 })
    assert.deepEqual(await cache.wrap('w', 1000, compute), { n: 42 })
    assert.equal(calls, 1)
  })

  test(`${name}: ping makes a real round trip`, async t => {
    const cache = await make(t)
    t.after(() => cache.close())
    await cache.ping()
  })

  test(`${name}: sessions round-trip through the session store`, async t => {
    const cache = await make(t)
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
