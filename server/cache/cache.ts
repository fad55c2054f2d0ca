// One cache interface for the app (sessions, settings, rate limits); backends live beside it (backends.ts).
import type { CacheBackend } from './backends.ts'

export interface Cache {
  readonly backend: CacheBackend
  get<T = unknown>(key: string): Promise<T | undefined>
  /** ttlMs: time to live in milliseconds; undefined = no expiry */
  set(key: string, value: unknown, ttlMs?: number): Promise<void>
  delete(key: string): Promise<void>
  /** Returns the cached value, or computes, stores and returns it. */
  wrap<T>(key: string, ttlMs: number | undefined, compute: () => Promise<T>): Promise<T>
  /**
   * Counts hits in a fixed window that starts with the first hit (rate limits): returns the count
   * including this hit and the time left in the window. Atomic across instances with Redis.
   */
  increment(key: string, windowMs: number): Promise<{ count: number, ttlMs: number }>
  /** Reads a counter without counting: { count: 0, ttlMs: 0 } when absent or expired. */
  counter(key: string): Promise<{ count: number, ttlMs: number }>
  /**
   * Deletes every live entry whose key starts with `prefix` and whose value `match` accepts; returns how many.
   * A scan of the whole backend, for operators' commands (ending a user's sessions), not for requests.
   */
  removeWhere(prefix: string, match: (value: unknown) => boolean): Promise<number>
  /** A real round trip through the backend, for /health. Throws when the backend does not answer. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** The cache did not answer (Redis away): pages that need it answer 503, never a crash. */
export class CacheUnavailableError extends Error {
  readonly code = 'AMORCE_CACHE_UNAVAILABLE'
  readonly statusCode = 503
  constructor (message: string, options?: { cause?: unknown }) { super(message, options) }
}

/** Where a cache reads the time (ms since the epoch): Date.now, or a test's own clock. */
export type Clock = () => number

export abstract class BaseCache implements Cache {
  abstract readonly backend: Cache['backend']
  constructor (protected readonly now: Clock = Date.now) {}
  abstract get<T = unknown>(key: string): Promise<T | undefined>
  abstract set(key: string, value: unknown, ttlMs?: number): Promise<void>
  abstract delete(key: string): Promise<void>
  abstract removeWhere(prefix: string, match: (value: unknown) => boolean): Promise<number>

  async wrap<T>(key: string, ttlMs: number | undefined, compute: () => Promise<T>): Promise<T> {
    const hit = await this.get<T>(key)
    if (hit !== undefined) return hit
    const value = await compute()
    await this.set(key, value, ttlMs)
    return value
  }

  // One in-process queue per key: enough for a single instance, which is all memory and a local
  // directory can serve (Redis overrides this with an atomic script).
  private readonly counting = new Map<string, Promise<unknown>>()

  async increment (key: string, windowMs: number): Promise<{ count: number, ttlMs: number }> {
    const previous = this.counting.get(key) ?? Promise.resolve()
    const run = previous.catch(() => {}).then(async () => {
      const now = this.now()
      const hit = await this.get<{ count: number, endsAt: number }>(key)
      const counter = hit && hit.endsAt > now ? { count: hit.count + 1, endsAt: hit.endsAt } : { count: 1, endsAt: now + windowMs }
      await this.set(key, counter, counter.endsAt - now)
      return { count: counter.count, ttlMs: counter.endsAt - now }
    })
    this.counting.set(key, run)
    try {
      return await run
    } finally {
      if (this.counting.get(key) === run) this.counting.delete(key)
    }
  }

  async counter (key: string): Promise<{ count: number, ttlMs: number }> {
    const hit = await this.get<{ count: number, endsAt: number }>(key)
    const now = this.now()
    return hit && hit.endsAt > now ? { count: hit.count, ttlMs: hit.endsAt - now } : { count: 0, ttlMs: 0 }
  }

  async ping(): Promise<void> {
    // A key of its own: instances sharing one Redis (and one pid number) must not read each other's.
    const key = `health:${process.pid}:${Math.random().toString(36).slice(2)}`
    const stamp = Date.now()
    await this.set(key, stamp, 10_000)
    if (await this.get(key) !== stamp) throw new Error('cache round trip returned another value')
    await this.delete(key)
  }

  async close(): Promise<void> {}
}
