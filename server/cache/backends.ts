// The cache backends, in the order the wizard offers them. Every list of backends (the configuration's
// CACHE_BACKEND values, the wizard's choices, the Cache type's `backend`) derives from this one registry: adding a
// backend is its Cache class, its entry here, and its label in locales/<lang>/setup/cache.json.
import type { Cache } from './cache.ts'
import type { RedisCacheOptions } from './redis.ts'

export interface CacheOptions { backend: CacheBackend, dir?: string, redisUrl?: string, redis?: RedisCacheOptions }

export interface CacheBackendModule<Id extends string = string> {
  readonly id: Id
  /** i18n keys of its name and its one-line description */
  readonly labelKey: string
  readonly hintKey: string
  /** Several instances of the app see the same entries (required when the app runs more than one instance). */
  readonly shared: boolean
  open(options: Omit<CacheOptions, 'backend'>): Promise<Cache>
}

const redis: CacheBackendModule<'redis'> = {
  id: 'redis',
  labelKey: 'setup.cache.backends.redis',
  hintKey: 'setup.cache.backendHints.redis',
  shared: true,
  async open (opts) {
    if (!opts.redisUrl) throw new Error('REDIS_URL is required for the redis cache')
    // ioredis is loaded only when Redis is the backend: it costs a third of a cold start otherwise.
    return (await import('./redis.ts')).RedisCache.open(opts.redisUrl, opts.redis)
  }
}

const filesystem: CacheBackendModule<'filesystem'> = {
  id: 'filesystem',
  labelKey: 'setup.cache.backends.filesystem',
  hintKey: 'setup.cache.backendHints.filesystem',
  shared: false,
  async open (opts) {
    if (!opts.dir) throw new Error('CACHE_DIR is required for the filesystem cache')
    return new (await import('./filesystem.ts')).FilesystemCache(opts.dir)
  }
}

const memory: CacheBackendModule<'memory'> = {
  id: 'memory',
  labelKey: 'setup.cache.backends.memory',
  hintKey: 'setup.cache.backendHints.memory',
  shared: false,
  async open () { return new (await import('./memory.ts')).MemoryCache() }
}

export const CACHE_BACKEND_MODULES = [redis, filesystem, memory] as const

export type CacheBackend = typeof CACHE_BACKEND_MODULES[number]['id']

export const CACHE_BACKENDS: readonly CacheBackend[] = CACHE_BACKEND_MODULES.map(backend => backend.id)

export function isCacheBackend (value: unknown): value is CacheBackend {
  return (CACHE_BACKENDS as readonly unknown[]).includes(value)
}

export function cacheBackendOf (id: string): CacheBackendModule {
  const backend = CACHE_BACKEND_MODULES.find(b => b.id === id)
  if (!backend) throw new Error(`unknown cache backend: ${String(id)}`)
  return backend
}
