// Loopback ports for tests: one nobody listens on, and listeners of the test's own (never an outside address).
import net from 'node:net'
import type { TestContext } from 'node:test'

/** A port nobody listens on right now (taken, then released): the "refused" case, or a port to start a server on. */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
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
}

/**
 * A loopback proxy to `target`, closed when the test ends: a real server that can start to accept
 * connections and then say nothing (a stuck database), deterministically.
 */
export async function tcpProxy (t: TestContext, target: { host: string, port: number }): Promise<TcpProxy> {
  const proxy: TcpProxy = { port: 0, mode: 'forward' }
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
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }))
  proxy.port = (server.address() as net.AddressInfo).port
  return proxy
}
