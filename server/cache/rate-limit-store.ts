// A @fastify/rate-limit store over the app's cache: counts live in Redis (shared by every
// instance), in the cache directory or in memory, whichever the install chose. The plugin takes
// its store once, at registration, so the store asks for the current cache on every hit.
import { CacheUnavailableError, type Cache } from './cache.ts'

type IncrCallback = (err: Error | null, result?: { current: number, ttl: number }) => void

export interface RateLimitStore {
  incr(key: string, cb: IncrCallback, timeWindow: number, max: number): void
  read(key: string, cb: IncrCallback): void
  child(routeOptions: unknown): RateLimitStore
}

/** The class the plugin's `store` option wants (it calls `new Store(options)`). */
export function cacheRateLimitStore (current: () => Cache | undefined, namespace = 'rl:'): new (options?: unknown) => RateLimitStore {
  class CacheRateLimitStore implements RateLimitStore {
    incr (key: string, cb: IncrCallback, timeWindow: number): void {
      const cache = current()
      if (!cache) { cb(new CacheUnavailableError('no cache: the app is not in normal mode')); return }
      cache.increment(namespace + key, timeWindow).then(
        r => cb(null, { current: r.count, ttl: r.ttlMs }),
        err => cb(new CacheUnavailableError('the rate-limit counter cannot be read', { cause: err })))
    }

    /** The plugin's `{ increment: false }`: where a counter stands, without counting. */
    read (key: string, cb: IncrCallback): void {
      const cache = current()
      if (!cache) { cb(new CacheUnavailableError('no cache: the app is not in normal mode')); return }
      cache.counter(namespace + key).then(
        r => cb(null, { current: r.count, ttl: r.ttlMs }),
        err => cb(new CacheUnavailableError('the rate-limit counter cannot be read', { cause: err })))
    }

    child (): RateLimitStore { return new CacheRateLimitStore() }
  }
  return CacheRateLimitStore
}
