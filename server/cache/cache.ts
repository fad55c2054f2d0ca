// One cache interface for the app (sessions, settings, rate limits); backends live beside it.
export interface Cache {
  readonly backend: 'memory' | 'filesystem' | 'redis'
  get<T = unknown>(key: string): Promise<T | undefined>
  /** ttlMs: time to live in milliseconds; undefined = no expiry */
  set(key: string, value: unknown, ttlMs?: number): Promise<void>
  delete(key: string): Promise<void>
  /** Returns the cached value, or computes, stores and returns it. */
  wrap<T>(key: string, ttlMs: number | undefined, compute: () => Promise<T>): Promise<T>
  /** A real round trip through the backend, for /health. Throws when the backend does not answer. */
  ping(): Promise<void>
  close(): Promise<void>
}

export abstract class BaseCache implements Cache {
  abstract readonly backend: Cache['backend']
  abstract get<T = unknown>(key: string): Promise<T | undefined>
  abstract set(key: string, value: unknown, ttlMs?: number): Promise<void>
  abstract delete(key: string): Promise<void>

  async wrap<T>(key: string, ttlMs: number | undefined, compute: () => Promise<T>): Promise<T> {
    const hit = await this.get<T>(key)
    if (hit !== undefined) return hit
    const value = await compute()
    await this.set(key, value, ttlMs)
    return value
  }

  async ping(): Promise<void> {
    const key = `health:${process.pid}`
    const stamp = Date.now()
    await this.set(key, stamp, 10_000)
    if (await this.get(key) !== stamp) throw new Error('cache round trip returned another value')
  }

  async close(): Promise<void> {}
}
