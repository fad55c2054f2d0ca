// Cache on Redis (ioredis), shared by every instance of the app. Built to fail fast and heal by
// itself: no offline queue and a command timeout, so a request never hangs while Redis is away,
// and endless reconnection with backoff, so the app recovers when Redis comes back.
import { Redis, type RedisOptions } from 'ioredis'
import { BaseCache } from './cache.ts'
import { CACHE_KEY_PREFIX, parseRedisUrl, type RedisTarget } from './redis-probe.ts'

export interface RedisCacheOptions {
  /** every key this cache writes starts with it, so one Redis can serve other things too */
  prefix?: string
  connectTimeoutMs?: number
  commandTimeoutMs?: number
  /** told once when the connection is lost and once when it is back (not at every retry) */
  onStatus?: (status: 'down' | 'up', detail?: string) => void
}

// INCR, and start the window on the first hit; the remaining time comes back with the count.
const INCREMENT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { n, ttl }`

export function redisOptions (target: RedisTarget, opts: RedisCacheOptions = {}): RedisOptions {
  return {
    host: target.host,
    port: target.port,
    username: target.username,
    password: target.password,
    db: target.db,
    tls: target.tls ? { servername: target.host } : undefined,
    // RESP2 works with every supported server; RESP3 would need HELLO (Redis 6+).
    protocol: 2,
    connectionName: 'amorce',
    lazyConnect: true,
    connectTimeout: opts.connectTimeoutMs ?? 3000,
    commandTimeout: opts.commandTimeoutMs ?? 1500,
    // Commands fail at once while disconnected instead of waiting in a queue.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Never give up: Redis restarted or moved back is found again without restarting the app.
    retryStrategy: times => Math.min(100 * 2 ** Math.min(times, 5), 2000)
  }
}

export class RedisCache extends BaseCache {
  readonly backend = 'redis' as const
  readonly prefix: string

  private constructor (readonly client: Redis, prefix: string) {
    super()
    this.prefix = prefix
  }

  /** Connects (bounded by the connect timeout) or throws; reconnects by itself afterwards. */
  static async open (url: string, opts: RedisCacheOptions = {}): Promise<RedisCache> {
    const target = parseRedisUrl(url)
    const client = new Redis(redisOptions(target, opts))
    let down = false
    let lastError: Error | undefined
    client.on('error', (err: Error) => {
      lastError = err
      if (!down) { down = true; opts.onStatus?.('down', err.message) }
    })
    client.on('close', () => {
      if (!down && client.status !== 'end') { down = true; opts.onStatus?.('down', 'connection closed') }
    })
    client.on('ready', () => {
      if (down) { down = false; opts.onStatus?.('up') }
    })
    try {
      await client.connect()
      // ioredis reports a failed SELECT as an event and stays on database 0: check it ourselves.
      if (target.db !== 0) await client.select(target.db)
    } catch (err) {
      client.disconnect()
      // "Connection is closed" says less than the error that closed it (refused, WRONGPASS…).
      throw lastError && lastError !== err ? new Error(`${lastError.message}`, { cause: err }) : err
    }
    return new RedisCache(client, opts.prefix ?? CACHE_KEY_PREFIX)
  }

  private k (key: string): string { return this.prefix + key }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const raw = await this.client.get(this.k(key))
    if (raw === null) return undefined
    try {
      return JSON.parse(raw) as T
    } catch {
      // Not ours (written by something else under our prefix): a miss, and gone.
      await this.client.del(this.k(key))
      return undefined
    }
  }

  async set (key: string, value: unknown, ttlMs?: number): Promise<void> {
    const raw = JSON.stringify(value)
    if (raw === undefined) throw new TypeError('the value cannot be stored as JSON')
    if (ttlMs === undefined) await this.client.set(this.k(key), raw)
    else await this.client.set(this.k(key), raw, 'PX', Math.max(1, Math.ceil(ttlMs)))
  }

  async delete (key: string): Promise<void> {
    await this.client.del(this.k(key))
  }

  async removeWhere (prefix: string, match: (value: unknown) => boolean): Promise<number> {
    // SCAN, never KEYS: it does not block the server, and other apps' keys under other prefixes are not touched.
    const pattern = (this.prefix + prefix).replace(/[*?[\]\\]/g, '\\$&') + '*'
    let cursor = '0'
    let removed = 0
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
      cursor = next
      for (const full of keys) {
        const raw = await this.client.get(full)
        if (raw === null) continue
        let value: unknown
        try { value = JSON.parse(raw) } catch { continue }
        if (match(value)) removed += await this.client.del(full)
      }
    } while (cursor !== '0')
    return removed
  }

  override async increment (key: string, windowMs: number): Promise<{ count: number, ttlMs: number }> {
    const [count, ttl] = await this.client.eval(INCREMENT, 1, this.k(key), String(Math.max(1, Math.ceil(windowMs)))) as [number, number]
    return { count: Number(count), ttlMs: Number(ttl) }
  }

  override async counter (key: string): Promise<{ count: number, ttlMs: number }> {
    const [[, count], [, ttl]] = await this.client.multi().get(this.k(key)).pttl(this.k(key)).exec() as [[Error | null, string | null], [Error | null, number]]
    if (count === null || ttl === -2) return { count: 0, ttlMs: 0 }
    return { count: Number(count), ttlMs: Math.max(0, Number(ttl)) }
  }

  override async close (): Promise<void> {
    if (this.client.status === 'end') return
    // QUIT waits for pending replies when connected; a client that is down just stops retrying.
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect())
    else this.client.disconnect()
  }
}
