// Redis for tests: the shared server on 127.0.0.1:6379 (skip loudly when absent, fail under CI),
// and throwaway redis-server processes on free ports, stopped when the test ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import type { TestContext } from 'node:test'
import { probeRedis } from '../../server/cache/redis-probe.ts'
import { requireService } from './services.ts'
import { freePort } from './net.ts'

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
  /** (re)starts the server on the same port and waits until it answers */
  start(): Promise<void>
  /** kills the server and waits for its exit */
  stop(): Promise<void>
}

/** A redis-server of the test's own (no persistence) on a free port; killed when the test ends. */
export async function startPrivateRedis (t: TestContext, extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  let out = ''
  const url = `redis://127.0.0.1:${port}`
  const server: PrivateRedis = {
    port,
    url,
    async start () {
      if (child && child.exitCode === null && child.signalCode === null) return
      out = ''
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
      child.stdout!.on('data', d => { out += d })
      child.stderr!.on('data', d => { out += d })
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`redis-server exited:\n${out}`)
        if (/Ready to accept connections/.test(out)) return
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      throw new Error(`redis-server did not start in 10 s:\n${out}`)
    },
    async stop () {
      const c = child
      if (!c || c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise(resolve => c.once('exit', resolve))
      c.kill('SIGKILL')
      await exited
    }
  }
  t.after(() => server.stop())
  await server.start()
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
