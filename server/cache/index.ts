// Opens the cache backend the configuration names (the registry: backends.ts).
import type { Cache } from './cache.ts'
import { cacheBackendOf, type CacheOptions } from './backends.ts'

export type { Cache } from './cache.ts'
export type { CacheBackend, CacheOptions } from './backends.ts'

export async function openCache (opts: CacheOptions): Promise<Cache> {
  return cacheBackendOf(opts.backend).open(opts)
}
