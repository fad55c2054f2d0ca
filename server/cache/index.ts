// Opens the cache backend the configuration names.
import type { Cache } from './cache.ts'
import { FilesystemCache } from './filesystem.ts'
import { MemoryCache } from './memory.ts'
// ioredis is loaded only when Redis is the backend: it costs a third of a cold start otherwise.
import type { RedisCacheOptions } from './redis.ts'

export type { Cache } from './cache.ts'

export interface CacheOptions { backend: 'memory' | 'filesystem' | 'redis', dir?: string, redisUrl?: string, redis?: RedisCacheOptions }

export async function openCache (opts: CacheOptions): Promise<Cache> {
  switch (opts.backend) {
    case 'memory': return new MemoryCache()
    case 'filesystem':
      if (!opts.dir) throw new Error('CACHE_DIR is required for the filesystem cache')
      return new FilesystemCache(opts.dir)
    case 'redis':
      if (!opts.redisUrl) throw new Error('REDIS_URL is required for the redis cache')
      return (await import('./redis.ts')).RedisCache.open(opts.redisUrl, opts.redis)
    default:
      throw new Error(`unknown cache backend: ${String(opts.backend)}`)
  }
}
