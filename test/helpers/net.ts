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
