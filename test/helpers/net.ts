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
  /** Closes the listener and cuts every connection through it: the server "goes away". */
  stop(): Promise<void>
  /** Listens again on the same port: the server "comes back". */
  start(): Promise<void>
}

/** A TCP proxy on 127.0.0.1 to `target`, stopped and restarted at will (a database outage without stopping the shared server). */
export async function tcpProxy (t: TestContext, target: { host: string, port: number }, opts: { listening?: boolean } = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket) => { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)) }
  const server = net.createServer(client => {
    track(client)
    const upstream = net.connect(target.port, target.host)
    track(upstream)
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  const port = await freePort()
  const proxy: TcpProxy = {
    port,
    start: () => new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() }) }),
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
