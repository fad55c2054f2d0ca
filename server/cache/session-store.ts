// @fastify/session stores: one on the app's cache, and one that forwards to whichever store the
// current mode uses, because the plugin takes its store once, at registration.
import type { SessionStore } from '@fastify/session'
import { CacheUnavailableError, type Cache } from './cache.ts'

type Callback = (err?: unknown) => void

// The error that makes a page answer 503 "cache unavailable" instead of 500.
const unavailable = (cb: (err: unknown) => void) => (err: unknown) => cb(new CacheUnavailableError('the session store cannot be reached', { cause: err }))

// The plugin's own callback type names its Session class; sessions here are plain JSON.
type GetCallback = (err: any, result?: any) => void

/** Sessions kept in the cache, expiring with the cookie (default one day). */
export class CacheSessionStore implements SessionStore {
  constructor (private readonly cache: Cache, private readonly defaultTtlMs = 24 * 3600_000) {}

  set (sid: string, session: any, cb: Callback): void {
    const expires = session?.cookie?.expires ? new Date(session.cookie.expires).getTime() - Date.now() : this.defaultTtlMs
    this.cache.set(`sess:${sid}`, JSON.parse(JSON.stringify(session)), Math.max(1000, expires)).then(() => cb(), unavailable(cb))
  }

  get (sid: string, cb: GetCallback): void {
    this.cache.get(`sess:${sid}`).then(s => cb(null, s ?? null), unavailable(cb))
  }

  destroy (sid: string, cb: Callback): void {
    this.cache.delete(`sess:${sid}`).then(() => cb(), unavailable(cb))
  }
}

/** A stored session of this user: the login sets userId (server/app/routes.ts); every session has its cookie. */
function sessionOf (userId: number) {
  return (value: unknown): boolean => {
    const s = value as { userId?: unknown, cookie?: unknown } | null
    return typeof s === 'object' && s !== null && s.userId === userId && typeof s.cookie === 'object' && s.cookie !== null
  }
}

/** Ends every session of a user kept in this cache (`amorce admin reset-password`); returns how many. */
export function endUserSessions (cache: Cache, userId: number): Promise<number> {
  return cache.removeWhere('sess:', sessionOf(userId))
}

/** Forwards to the store returned by `current()`: the wizard's memory store, then the app's. */
export class SwitchableSessionStore implements SessionStore {
  constructor (private readonly current: () => SessionStore) {}
  set (sid: string, session: any, cb: Callback): void { this.current().set(sid, session, cb) }
  get (sid: string, cb: GetCallback): void { this.current().get(sid, cb) }
  destroy (sid: string, cb: Callback): void { this.current().destroy(sid, cb) }
}
