// The cache backend registry: every list of backends derives from it, each entry opens its backend, and the
// configuration accepts exactly its ids.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { CACHE_BACKEND_MODULES, CACHE_BACKENDS, cacheBackendOf, isCacheBackend } from '../../../server/cache/backends.ts'
import { openCache } from '../../../server/cache/index.ts'
import { loadConfig } from '../../../server/config/config.ts'
import { BACKENDS } from '../../../server/setup/steps/cache.ts'

const root = path.resolve(import.meta.dirname, '../../..')

function lookup (tree: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], tree)
}

test('the ids, the configuration values and the wizard choices are the registry, each id once', () => {
  assert.deepEqual(CACHE_BACKENDS, CACHE_BACKEND_MODULES.map(b => b.id))
  assert.equal(new Set(CACHE_BACKENDS).size, CACHE_BACKENDS.length)
  assert.deepEqual(BACKENDS, CACHE_BACKENDS)
  for (const id of CACHE_BACKENDS) assert.ok(isCacheBackend(id) && cacheBackendOf(id).id === id)
  assert.equal(isCacheBackend('memcached'), false)
  assert.throws(() => cacheBackendOf('memcached'), /unknown cache backend/)
})

test('every backend names itself in both languages (setup/cache.json)', async () => {
  for (const lang of ['en', 'fr']) {
    const texts = { setup: { cache: JSON.parse(await readFile(path.join(root, 'locales', lang, 'setup', 'cache.json'), 'utf8')) } }
    for (const backend of CACHE_BACKEND_MODULES) {
      for (const key of [backend.labelKey, backend.hintKey]) assert.equal(typeof lookup(texts, key), 'string', `${lang}: ${key}`)
    }
  }
})

test('the local backends open through the registry and say which they are; a missing setting is refused', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'amorce-backends-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  for (const backend of ['memory', 'filesystem'] as const) {
    const cache = await openCache({ backend, dir })
    try {
      assert.equal(cache.backend, backend)
      await cache.set('k', { v: 1 })
      assert.deepEqual(await cache.get('k'), { v: 1 })
    } finally {
      await cache.close()
    }
  }
  await assert.rejects(openCache({ backend: 'filesystem' }), /CACHE_DIR is required/)
  await assert.rejects(openCache({ backend: 'redis' }), /REDIS_URL is required/)
  await assert.rejects(openCache({ backend: 'memcached' as never }), /unknown cache backend/)
})

test('CACHE_BACKEND accepts exactly the registry’s ids, and its error lists them', async t => {
  const cwd = await mkdtemp(path.join(tmpdir(), 'amorce-backends-cfg-'))
  t.after(() => rm(cwd, { recursive: true, force: true }))
  for (const id of CACHE_BACKENDS) assert.equal((await loadConfig({ CACHE_BACKEND: id }, cwd)).values.cacheBackend, id)
  await assert.rejects(loadConfig({ CACHE_BACKEND: 'memcached' }, cwd), (error: Error) => error.message.includes(CACHE_BACKENDS.join(', ')))
})
