// Opens the cache backend the configuration names.
import type { Cache } from './cache.ts'
import { FilesystemCache } from './filesystem.ts'
import { MemoryCache } from './memory.ts'

export type { Cache } from './cache.ts'

export interface CacheOptions { backend: 'memory' | 'filesystem' | 'redis', dir?: string, redisUrl?: string }

export async function openCache (opts: CacheOptions): Promise<Cache> {
  switch (opts.backend) {
    case 'memory': return new MemoryCache()
    case 'filesystem':
      if (!opts.dir) throw new Error('CACHE_DIR is required for the filesystem cache')
      return new FilesystemCache(opts.dir)
    default:
      throw new Error(`cache backend not supported by this version: ${opts.backend}`)
  }
}
