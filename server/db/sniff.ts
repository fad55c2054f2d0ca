// "Something else is listening here": a short raw TCP exchange that tells which protocol answers at an
// address (PostgreSQL, MySQL/MariaDB, Redis, HTTP, SSH, TLS) before a database driver is pointed at it.
// Without it, a driver given a Redis port waits for its whole timeout and blames a firewall, and one given
// a MySQL port reports a protocol message nobody can act on. Never throws; never sends a password.
import net from 'node:net'
import type { ServerProvider } from './engines/index.ts'

/** A server engine's protocol (its id), or another service that may answer at a database's address. */
export type Service = ServerProvider | 'redis' | 'http' | 'ssh' | 'tls' | 'other'

/** unreachable: no TCP connection (the driver then names why); silent: connected, nothing ever answered. */
export type SniffResult = Service | 'unreachable' | 'silent'

/** PostgreSQL's SSLRequest: 8 bytes, answered by one byte (S or N) by any PostgreSQL server, and harmless. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
/** For servers that wait for a line (Redis, HTTP): a Redis PING. */
const LINE_PROBE = Buffer.from('PING\r\n', 'latin1')

export interface SniffOptions {
  /** how long the TCP connection may take */
  connectTimeoutMs?: number
  /** silence after connecting before the line probe is sent (servers that speak first have spoken by then) */
  quietMs?: number
  /** the whole exchange after connecting */
  answerMs?: number
}

/** Names the protocol of a first answer, or undefined when the bytes are not enough to tell. */
export function classifyAnswer (data: Buffer): Service | undefined {
  if (data.length === 0) return undefined
  const head = data.subarray(0, 16).toString('latin1')
  if (head.startsWith('SSH-')) return 'ssh'
  if (head.startsWith('HTTP/')) return 'http'
  // A TLS record: handshake (22) or alert (21), version 3.x.
  if ((data[0] === 0x15 || data[0] === 0x16) && data[1] === 0x03) return 'tls'
  // MySQL's first packet: a 3-byte length, sequence 0, then protocol 10 (the greeting) or 0xff (an error).
  if (data.length >= 5 && data[3] === 0 && (data[4] === 0x0a || data[4] === 0xff)) {
    const length = data[0] | (data[1] << 8) | (data[2] << 16)
    if (length > 0 && length < 1 << 16) return 'mysql'
  }
  // PostgreSQL answers the SSLRequest with a single S or N; an E is an error report (too many clients…).
  if (data.length === 1 && (data[0] === 0x53 || data[0] === 0x4e)) return 'postgresql'
  if (data[0] === 0x45 && /[SV](FATAL|ERROR)/.test(data.toString('latin1'))) return 'postgresql'
  // RESP: a simple string or an error (-ERR, -NOAUTH, -DENIED), or a RESP3 greeting.
  if (/^[+-][A-Z]/.test(head) || /^[$*%:]\d/.test(head)) return 'redis'
  return 'other'
}

interface Talk {
  result: Promise<SniffResult>
  /** resolves when the TCP connection is made, with how long it took */
  connected: Promise<number>
  stop(): void
}

/** One connection: sends `payload` once connected, then classifies what comes back within `answerMs`. */
function talk (host: string, port: number, payload: Buffer, connectTimeoutMs: number, answerMs: number): Talk {
  const started = performance.now()
  const socket = net.connect({ host, port })
  const timers: NodeJS.Timeout[] = []
  let received = Buffer.alloc(0)
  let isConnected = false
  let settle: (r: SniffResult) => void = () => {}
  let onConnect: (ms: number) => void = () => {}
  const connected = new Promise<number>(resolve => { onConnect = resolve })
  const result = new Promise<SniffResult>(resolve => { settle = resolve })
  let settled = false
  const done = (r: SniffResult) => {
    if (settled) return
    settled = true
    for (const timer of timers) clearTimeout(timer)
    socket.removeAllListeners('data')
    socket.on('error', () => {})
    socket.destroy()
    settle(r)
  }
  // Closed or reset without a word: nothing to tell (the driver then says what it meets).
  const ended = () => done(received.length > 0 ? classifyAnswer(received) ?? 'other' : isConnected ? 'silent' : 'unreachable')
  timers.push(setTimeout(() => done(isConnected ? 'silent' : 'unreachable'), connectTimeoutMs))
  socket.on('error', ended)
  socket.on('end', ended)
  socket.on('close', ended)
  socket.on('connect', () => {
    isConnected = true
    for (const timer of timers) clearTimeout(timer)
    timers.length = 0
    onConnect(performance.now() - started)
    socket.write(payload)
    timers.push(setTimeout(ended, answerMs))
  })
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]).subarray(0, 4096)
    // One byte may be PostgreSQL's whole answer, or the start of something longer: wait a moment.
    if (received.length === 1) {
      timers.push(setTimeout(ended, 30))
      return
    }
    if (classifyAnswer(received)) ended()
  })
  return { result, connected, stop: () => done('silent') }
}

/**
 * Connects to host:port and tells which protocol answers (see SniffResult). The first connection sends
 * PostgreSQL's SSLRequest, which PostgreSQL answers at once, and on which servers that speak first (MySQL,
 * SSH) have spoken anyway. A server still silent after a moment gets a second connection with a Redis PING
 * (Redis and HTTP answer a line): not sent on the first, whose NUL bytes keep Redis waiting for a line end,
 * nor to a PostgreSQL server, which would log it as an invalid startup packet.
 */
export async function sniffService (host: string, port: number, options: SniffOptions = {}): Promise<SniffResult> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000
  const quietMs = options.quietMs ?? 250
  const answerMs = options.answerMs ?? 1500
  const first = talk(host, port, SSL_REQUEST, connectTimeoutMs, answerMs)
  let second: Talk | undefined
  const quiet = first.connected.then(ms => new Promise<'quiet'>(resolve => {
    // Twice the connection time at least: a distant PostgreSQL has the time to answer the first.
    const timer = setTimeout(() => resolve('quiet'), Math.max(quietMs, 2 * ms))
    void first.result.then(() => clearTimeout(timer))
  }))
  const early = await Promise.race([first.result, quiet])
  if (early !== 'quiet') return early
  second = talk(host, port, LINE_PROBE, connectTimeoutMs, answerMs)
  const [a, b] = await Promise.all([
    first.result.then(r => { if (r !== 'silent' && r !== 'unreachable') second?.stop(); return r }),
    second.result.then(r => { if (r !== 'silent' && r !== 'unreachable') first.stop(); return r })
  ])
  for (const r of [a, b]) if (r !== 'silent' && r !== 'unreachable') return r
  return a === 'unreachable' ? b : a
}
