// Redis for tests: the shared server on 127.0.0.1:6379 (skip loudly when absent, fail under CI),
// and throwaway redis-server processes on ports of their own, stopped when the test ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import type { TestContext } from 'node:test'
import { probeRedis } from '../../server/cache/redis-probe.ts'
import { requireService } from './services.ts'
import { serverPort, serverPortRetry } from './net.ts'

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

let shared: Promise<boolean> | undefined
/** The shared Redis answers; probed once per test file. */
export function sharedRedisAvailable (): Promise<boolean> {
  return (shared ??= probeRedis(SHARED_REDIS_URL, 1500).then(r => r.ok))
}

export async function requireRedis (t: TestContext): Promise<boolean> {
  return requireService(t, 'Redis on 127.0.0.1:6379', await sharedRedisAvailable(), 'apt-get install -y redis-server, or set TEST_REDIS_URL')
}

export function redisServerInstalled (): boolean {
  return spawnSync('redis-server', ['--version']).status === 0
}

export async function requireRedisServerBinary (t: TestContext): Promise<boolean> {
  return requireService(t, 'redis-server (to start a private Redis)', redisServerInstalled(), 'apt-get install -y redis-server')
}

export interface PrivateRedis {
  port: number
  url: string
  /** the TLS port, when the arguments asked for one */
  tlsPort?: number
  /** (re)starts the server on the same port and waits until it answers */
  start(): Promise<void>
  /** kills the server and waits for its exit */
  stop(): Promise<void>
}

/**
 * A redis-server of the test's own (no persistence) on a port of its own, killed when the test ends.
 * `extraArgs` may be a function of a second port (e.g. for `--tls-port`).
 */
export async function startPrivateRedis (t: TestContext, extraArgs: string[] | ((tlsPort: number) => string[]) = []): Promise<PrivateRedis> {
  let child: ChildProcess | undefined
  const server: PrivateRedis = { port: 0, url: '', start, stop }
  t.after(() => server.stop())

  /** Runs redis-server until it is ready; 'taken' when a port was bound by someone else meanwhile. */
  function launch (): Promise<'ready' | 'taken'> {
    const args = typeof extraArgs === 'function' ? extraArgs(server.tlsPort!) : extraArgs
    const c = spawn('redis-server', ['--port', String(server.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    let out = ''
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start in 60 s:\n${out}`)), 60_000)
      const onData = (d: Buffer) => {
        out += d
        if (/Ready to accept connections/.test(out)) { clearTimeout(timer); resolve('ready') }
      }
      c.stdout!.on('data', onData)
      c.stderr!.on('data', onData)
      c.once('exit', () => {
        clearTimeout(timer)
        if (/Address already in use/i.test(out)) resolve('taken')
        else reject(new Error(`redis-server exited:\n${out}`))
      })
    })
  }

  async function start (): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) return
    // A restart keeps its port: below the ephemeral range, only a program naming it could take it.
    if (await launch() === 'taken') throw new Error(`port ${server.port} was taken while this test's Redis was stopped`)
  }

  async function stop (): Promise<void> {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise(resolve => c.once('exit', resolve))
    c.kill('SIGKILL')
    await exited
  }

  await serverPortRetry(async port => {
    server.port = port
    if (typeof extraArgs === 'function') server.tlsPort = await serverPort()
    return await launch() === 'taken' ? 'taken' : true
  })
  server.url = `redis://127.0.0.1:${server.port}`
  return server
}

/** Removes every key under a prefix (tests write under a prefix of their own). */
export async function deleteByPrefix (client: import('ioredis').Redis, prefix: string): Promise<number> {
  let cursor = '0'
  let removed = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    if (keys.length > 0) removed += await client.del(...keys)
    cursor = next
  } while (cursor !== '0')
  return removed
}
