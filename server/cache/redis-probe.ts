// Redis connection test for the wizard: connects with a raw RESP client (no reconnection, no
// queue, one deadline) and names the cause of a failure, or reports the version, latency and
// whether the eviction policy may drop sessions. No HTTP here: the cache step calls it.
import net from 'node:net'
import tls from 'node:tls'
import { encodeUrlPart } from '../db/url.ts'

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0'
/** Every key the app writes in Redis starts with this (sessions, rate limits, settings). */
export const CACHE_KEY_PREFIX = 'amorce:'
/** SCAN rounds (of 1000) when counting our keys: a bounded look, not a full walk of a huge database. */
const SCAN_ROUNDS = 20
export const PROBE_TIMEOUT_MS = 2000
/** Older servers lack what the session and rate-limit code relies on, or are long out of support. */
export const MIN_REDIS_MAJOR = 5

export interface RedisTarget {
  host: string
  port: number
  username?: string
  password?: string
  db: number
  tls: boolean
}

export type RedisFailure =
  | 'invalidUrl' | 'refused' | 'timeout' | 'dns' | 'unreachable' | 'authRequired' | 'wrongPassword'
  | 'dbOutOfRange' | 'tlsMismatch' | 'tlsCertificate' | 'notRedis' | 'tooOld' | 'serverError'

export type RedisProbeResult =
  | {
    ok: true, version: string, latencyMs: number, maxmemoryPolicy?: string, maxmemory?: number, evictionRisk: boolean, passwordIgnored: boolean, target: RedisTarget
    /** what the chosen database already holds: DBSIZE, and how many of those keys carry our prefix (at least) */
    keys: number, ourKeys: number
  }
  | { ok: false, reason: RedisFailure, detail: string, target?: RedisTarget }

/** redis://[user[:password]@]host[:port][/db] or rediss:// (TLS). Throws a message on a bad URL. */
export function parseRedisUrl (raw: string): RedisTarget {
  let u: URL
  try { u = new URL(raw.trim()) } catch { throw new Error('not a URL') }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('the scheme must be redis:// or rediss://')
  if (!u.hostname) throw new Error('no host')
  const port = u.port === '' ? 6379 : Number(u.port)
  const dbText = u.pathname.replace(/^\//, '')
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) throw new Error('the path must be a database index, e.g. /0')
  const target: RedisTarget = { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port, db: dbText === '' ? 0 : Number(dbText), tls: u.protocol === 'rediss:' }
  if (u.username) target.username = decodeURIComponent(u.username)
  if (u.password) target.password = decodeURIComponent(u.password)
  return target
}

/** The URL for separate fields (host, port, password, db, TLS); the password is percent-encoded. */
export function redisUrl (t: RedisTarget): string {
  const scheme = t.tls ? 'rediss' : 'redis'
  const host = t.host.includes(':') ? `[${t.host}]` : t.host
  const auth = t.password !== undefined && t.password !== ''
    ? `${t.username ? encodeUrlPart(t.username) : ''}:${encodeUrlPart(t.password)}@`
    : t.username ? `${encodeUrlPart(t.username)}@` : ''
  return `${scheme}://${auth}${host}:${t.port}/${t.db}`
}

/** The URL without its password, for pages and logs. */
export function redactRedisUrl (t: RedisTarget): string {
  return redisUrl({ ...t, password: t.password ? '***' : undefined }).replace('%2A%2A%2A', '***')
}

/**
 * Every policy but noeviction may drop our keys: sessions and rate-limit counters all carry a TTL,
 * so even the volatile-* policies pick them. noeviction makes writes fail instead, which the app
 * reports, rather than signing people out in silence.
 */
export function evictionRisk (policy: string | undefined): boolean {
  return policy !== undefined && policy !== 'noeviction'
}

/** Connects, authenticates, selects the database and reads the server's facts, within `timeoutMs`. */
export async function probeRedis (urlOrTarget: string | RedisTarget, timeoutMs = PROBE_TIMEOUT_MS): Promise<RedisProbeResult> {
  let target: RedisTarget
  try {
    target = typeof urlOrTarget === 'string' ? parseRedisUrl(urlOrTarget) : urlOrTarget
  } catch (err) {
    return { ok: false, reason: 'invalidUrl', detail: (err as Error).message }
  }
  const conn = new RespConnection(target, timeoutMs)
  try {
    await conn.open()
    let passwordIgnored = false
    if (target.password !== undefined && target.password !== '') {
      const args = target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password]
      const auth = await conn.command(args)
      if (auth instanceof RespError) {
        if (/called without any password configured/i.test(auth.message)) passwordIgnored = true
        else if (/^(WRONGPASS|ERR invalid (username-)?password)/i.test(auth.message)) return fail('wrongPassword', auth.message)
        else return fail('serverError', auth.message)
      }
    }
    const started = performance.now()
    const pong = await conn.command(['PING'])
    const latencyMs = Math.round((performance.now() - started) * 10) / 10
    if (pong instanceof RespError) {
      if (/^NOAUTH/i.test(pong.message)) return fail('authRequired', pong.message)
      return fail('serverError', pong.message)
    }
    if (target.db !== 0) {
      const sel = await conn.command(['SELECT', String(target.db)])
      if (sel instanceof RespError) return fail(/out of range|invalid DB index/i.test(sel.message) ? 'dbOutOfRange' : 'serverError', sel.message)
    }
    const server = await conn.command(['INFO', 'server'])
    if (server instanceof RespError || typeof server !== 'string') return fail('serverError', server instanceof RespError ? server.message : 'INFO server')
    const version = /^redis_version:(\S+)/m.exec(server)?.[1] ?? 'unknown'
    if (Number(version.split('.')[0]) < MIN_REDIS_MAJOR) return fail('tooOld', version)
    // INFO memory, not CONFIG GET: managed services often forbid CONFIG.
    const memory = await conn.command(['INFO', 'memory'])
    const text = typeof memory === 'string' ? memory : ''
    const maxmemoryPolicy = /^maxmemory_policy:(\S+)/m.exec(text)?.[1]
    const maxmemory = /^maxmemory:(\d+)/m.exec(text)?.[1]
    // What the database holds: never taken over silently (the cache step asks before using a non-empty one).
    const size = await conn.command(['DBSIZE'])
    const keys = typeof size === 'number' ? size : 0
    let ourKeys = 0
    if (keys > 0) {
      let cursor = '0'
      let rounds = 0
      do {
        const page = await conn.command(['SCAN', cursor, 'MATCH', `${CACHE_KEY_PREFIX}*`, 'COUNT', '1000'])
        if (!Array.isArray(page) || !Array.isArray(page[1])) break
        cursor = String(page[0])
        ourKeys += page[1].length
      } while (cursor !== '0' && ++rounds < SCAN_ROUNDS)
    }
    return {
      keys,
      ourKeys,
      ok: true,
      version,
      latencyMs,
      maxmemoryPolicy,
      maxmemory: maxmemory === undefined ? undefined : Number(maxmemory),
      evictionRisk: evictionRisk(maxmemoryPolicy),
      passwordIgnored,
      target
    }
  } catch (err) {
    if (err instanceof ProbeFailure) return fail(err.reason, err.message)
    return fail('serverError', (err as Error).message)
  } finally {
    conn.close()
  }

  function fail (reason: RedisFailure, detail: string): RedisProbeResult {
    // A server's message never carries our password, but be sure before it reaches a page.
    const safe = target.password ? detail.split(target.password).join('***') : detail
    return { ok: false, reason, detail: safe.slice(0, 300), target }
  }
}

class ProbeFailure extends Error {
  constructor (readonly reason: RedisFailure, message: string) { super(message) }
}

class RespError { constructor (readonly message: string) {} }
type Reply = string | number | null | RespError | Reply[]

const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REVOKED'
])

/** One connection speaking RESP2, with a single deadline for the whole exchange. */
class RespConnection {
  private socket?: net.Socket
  private buffer = Buffer.alloc(0)
  private waiting?: { resolve: (r: Reply) => void, reject: (e: Error) => void }
  private failure?: ProbeFailure
  private connected = false
  private secured = false
  private answered = false
  private readonly deadline: number

  constructor (private readonly target: RedisTarget, private readonly timeoutMs: number) {
    this.deadline = Date.now() + timeoutMs
  }

  open (): Promise<void> {
    return new Promise((resolve, reject) => {
      const { host, port } = this.target
      const onReady = () => { this.secured = true; resolve() }
      const socket = this.target.tls
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }, onReady)
        : net.connect({ host, port }, onReady)
      this.socket = socket
      socket.setNoDelay(true)
      socket.once('connect', () => { this.connected = true })
      socket.on('data', chunk => this.onData(chunk))
      socket.on('error', err => { this.fail(this.classify(err)); reject(this.failure) })
      socket.on('close', () => {
        // Details are codes or numbers, not sentences: the page's own message, in its language, explains.
        this.fail(new ProbeFailure(this.target.tls || this.answered ? 'serverError' : 'tlsMismatch', 'EOF'))
        reject(this.failure)
      })
      const timer = setTimeout(() => {
        const stage = !this.connected ? 'connect' : this.target.tls && !this.secured ? 'handshake' : 'reply'
        // Connected over TCP but the TLS handshake never ends: the server does not speak TLS.
        this.fail(stage === 'handshake'
          ? new ProbeFailure('tlsMismatch', `TLS handshake > ${this.timeoutMs} ms`)
          : new ProbeFailure('timeout', stage === 'connect' ? `TCP connect > ${this.timeoutMs} ms` : `> ${this.timeoutMs} ms`))
        reject(this.failure)
        socket.destroy()
      }, Math.max(1, this.deadline - Date.now()))
      timer.unref()
      socket.once('close', () => clearTimeout(timer))
    })
  }

  command (args: string[]): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject }
      const parts = [`*${args.length}\r\n`, ...args.map(a => `$${Buffer.byteLength(a)}\r\n${a}\r\n`)]
      this.socket!.write(parts.join(''))
    })
  }

  close (): void {
    this.socket?.destroy()
  }

  private fail (failure: ProbeFailure): void {
    this.failure ??= failure
    const w = this.waiting
    this.waiting = undefined
    w?.reject(this.failure)
  }

  private classify (err: NodeJS.ErrnoException): ProbeFailure {
    const code = err.code ?? ''
    if (code === 'ECONNREFUSED') return new ProbeFailure('refused', code)
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') return new ProbeFailure('dns', code)
    if (code === 'ETIMEDOUT') return new ProbeFailure('timeout', code)
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return new ProbeFailure('unreachable', code)
    if (CERT_CODES.has(code)) return new ProbeFailure('tlsCertificate', `${code}: ${err.message}`)
    if (code.startsWith('ERR_SSL') || /SSL|TLS/.test(err.message)) return new ProbeFailure('tlsMismatch', code || err.message)
    // Reset before any reply on a plain connection: typically a TLS-only port dropping our plain text.
    if (code === 'ECONNRESET' && !this.answered && !this.target.tls) return new ProbeFailure('tlsMismatch', code)
    return new ProbeFailure('serverError', code || err.message)
  }

  private onData (chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk])
    if (!this.answered && this.buffer.length > 0) {
      this.answered = true
      // A TLS record (alert 0x15 / handshake 0x16) in answer to plain text.
      if (!this.target.tls && (this.buffer[0] === 0x15 || this.buffer[0] === 0x16)) return this.fail(new ProbeFailure('tlsMismatch', 'TLS record'))
      if (!'+-:$*_,#%~>=('.includes(String.fromCharCode(this.buffer[0]))) return this.fail(new ProbeFailure('notRedis', JSON.stringify(this.buffer.subarray(0, 40).toString('latin1'))))
    }
    if (this.buffer.length > 8 * 1024 * 1024) return this.fail(new ProbeFailure('notRedis', '> 8 MiB'))
    let parsed: ReturnType<typeof parseReply>
    try {
      parsed = parseReply(this.buffer, 0)
    } catch (err) {
      return this.fail(err instanceof ProbeFailure ? err : new ProbeFailure('notRedis', (err as Error).message))
    }
    if (parsed === undefined) return
    this.buffer = this.buffer.subarray(parsed.end)
    const w = this.waiting
    this.waiting = undefined
    w?.resolve(parsed.value)
  }
}

/** Parses one RESP2 reply at `at`; undefined while incomplete. */
function parseReply (buf: Buffer, at: number): { value: Reply, end: number } | undefined {
  const eol = buf.indexOf('\r\n', at)
  if (eol < 0) return undefined
  const type = String.fromCharCode(buf[at])
  const line = buf.toString('utf8', at + 1, eol)
  switch (type) {
    case '+': return { value: line, end: eol + 2 }
    case '-': return { value: new RespError(line), end: eol + 2 }
    case ':': return { value: Number(line), end: eol + 2 }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, end: eol + 2 }
      if (buf.length < eol + 2 + len + 2) return undefined
      return { value: buf.toString('utf8', eol + 2, eol + 2 + len), end: eol + 2 + len + 2 }
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return { value: null, end: eol + 2 }
      const items: Reply[] = []
      let pos = eol + 2
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, pos)
        if (!item) return undefined
        items.push(item.value)
        pos = item.end
      }
      return { value: items, end: pos }
    }
    default: throw new ProbeFailure('notRedis', `unexpected reply type ${JSON.stringify(type)}`)
  }
}
