// Loopback ports for tests: one nobody listens on, ports for servers that cannot bind port 0
// themselves, and listeners of the test's own (never an outside address).
import { readFileSync } from 'node:fs'
import net from 'node:net'
import type { TestContext } from 'node:test'

// A port taken with listen(0) and released can be handed by the kernel to any other process's
// listen(0) before ours binds it. Ports below the kernel's ephemeral range are never handed out:
// only a program naming one takes it. Tests pick there, in two halves that never overlap: ports for
// servers of their own (redis-server, nginx), and ports that must refuse connections.
function ephemeralLow (): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(low) && low > 13_024) return low
  } catch {}
  return 32_768
}
const LOW = ephemeralLow()
const SERVER_PORTS = [LOW - 12_000, LOW - 6000] as const
const REFUSED_PORTS = [LOW - 6000, LOW] as const

function randomIn ([from, to]: readonly [number, number]): number {
  return from + Math.floor(Math.random() * (to - from))
}

function connects (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
    s.on('error', () => resolve(false))
  })
}

/** A port nobody listens on (checked), which no other test and no listen(0) can take: the "refused" case. */
export async function refusedPort (): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = randomIn(REFUSED_PORTS)
    if (!await connects(port)) return port
  }
  throw new Error(`no free port found in ${REFUSED_PORTS.join('-')}`)
}

/**
 * A port for a server of the test's own that cannot bind port 0 and report it (redis-server, nginx):
 * free when checked; the caller starts on it and, if it was taken meanwhile, asks again (`serverPortRetry`).
 */
export async function serverPort (): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = randomIn(SERVER_PORTS)
    if (!await connects(port)) return port
  }
  throw new Error(`no free port found in ${SERVER_PORTS.join('-')}`)
}

/** Starts something on a serverPort(), again on another port while `start` says the port was taken. */
export async function serverPortRetry<T> (start: (port: number) => Promise<T | 'taken'>, attempts = 5): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const started = await start(await serverPort())
    if (started !== 'taken') return started
  }
  throw new Error(`${attempts} ports in a row were taken`)
}

/**
 * A TCP listener on 127.0.0.1, closed when the test ends; `onConnection` decides what (if anything)
 * it answers. The default says nothing at all: the timeout case.
 */
export async function tcpListener (t: TestContext, onConnection: (socket: net.Socket) => void = () => {}): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => { sockets.add(socket); socket.on('error', () => {}); onConnection(socket) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }))
  return (server.address() as net.AddressInfo).port
}

export interface TcpProxy {
  port: number
  /** 'forward': connections go through to the target; 'silent': new ones are accepted and never answered */
  mode: 'forward' | 'silent'
  /** Closes the listener and cuts every connection through it: the server "goes away". */
  stop(): Promise<void>
  /** Listens again on the same port: the server "comes back". */
  start(): Promise<void>
}

/**
 * A loopback proxy to `target`, closed when the test ends: a real server that can start to accept
 * connections and then say nothing (a stuck database, `mode = 'silent'`), or go away and come back on the
 * same port (an outage without stopping the shared server), deterministically. Created not listening
 * (`listening: false`), it holds a serverPort() so that it can start there later.
 */
export async function tcpProxy (t: TestContext, target: { host: string, port: number }, opts: { listening?: boolean } = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket) => { sockets.add(s); s.on('error', () => {}); s.once('close', () => sockets.delete(s)) }
  const server = net.createServer(socket => {
    track(socket)
    if (proxy.mode === 'silent') return
    const upstream = net.connect(target.port, target.host)
    track(upstream)
    socket.pipe(upstream).pipe(socket)
    socket.once('close', () => upstream.destroy())
    upstream.once('close', () => socket.destroy())
  })
  const proxy: TcpProxy = {
    port: opts.listening === false ? await serverPort() : 0,
    mode: 'forward',
    start: () => new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(proxy.port, '127.0.0.1', () => {
        server.off('error', reject)
        proxy.port = (server.address() as net.AddressInfo).port
        resolve()
      })
    }),
    stop: () => new Promise<void>(resolve => {
      for (const s of sockets) s.destroy()
      if (!server.listening) return resolve()
      server.close(() => resolve())
    })
  }
  if (opts.listening !== false) await proxy.start()
  t.after(() => proxy.stop())
  return proxy
}

/**
 * Kept for tests written before refusedPort/serverPort: a port nobody listens on now, below the
 * ephemeral range. Prefer refusedPort() for "nothing there", serverPort() to start something on it.
 */
export const freePort = serverPort
