// `amorce admin reset-password`: the new password from a pipe or a terminal (raw mode, never echoed), the
// wizard's strength check, argon2id, and the user's sessions ended in a shared cache (a directory, Redis) while
// the memory cache is said plainly to keep them until the restart.
import assert from 'node:assert/strict'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { main } from '../../../server/cli/index.ts'
import { cliContext, type CliIo } from '../../../server/cli/context.ts'
import { Client } from '../../helpers/app.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../../helpers/redis.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { ADMIN, installedApp } from '../cache/installed.ts'
import { runCli } from './run.ts'

const NEW_PASSWORD = 'Quartz-Lantern-Orbit-7391'

function envOf (dir: string): NodeJS.ProcessEnv {
  return { ENV_FILE: path.join(dir, '.env'), DATA_DIR: path.join(dir, 'data') }
}

async function signedIn (app: FastifyInstance): Promise<Client> {
  const client = new Client(app)
  await client.get('/login')
  const res = await client.post('/login', { login: ADMIN.username, password: ADMIN.password })
  assert.equal(res.statusCode, 303)
  assert.equal((await client.get('/dashboard')).statusCode, 200)
  return client
}

async function canLogIn (app: FastifyInstance, password: string): Promise<boolean> {
  const client = new Client(app)
  await client.get('/login')
  const res = await client.post('/login', { login: ADMIN.username, password })
  return res.statusCode === 303 && res.headers.location === '/dashboard'
}

async function sharedCacheCase (t: TestContext, cache: Parameters<typeof installedApp>[2]): Promise<void> {
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, cache)
  const first = await signedIn(app)
  const second = await signedIn(app)
  const r = await runCli(['admin', 'reset-password', ADMIN.username], envOf(dir), dir, { stdin: `${NEW_PASSWORD}\n` })
  assert.equal(r.code, 0, r.all)
  assert.match(r.out, /^The password of admin was changed\.\nSessions ended: 2 \(cache: (filesystem|redis)\)\.$/m)
  assert.ok(!r.all.includes(NEW_PASSWORD))
  for (const client of [first, second]) {
    const page = await client.get('/dashboard')
    assert.equal(page.statusCode, 303)
    assert.match(String(page.headers.location), /\/login$/)
  }
  assert.equal(await canLogIn(app, ADMIN.password), false)
  assert.equal(await canLogIn(app, NEW_PASSWORD), true)
}

test('with the filesystem cache: the password changes from a pipe and every session of the user ends', async t => {
  await sharedCacheCase(t, { backend: 'filesystem' })
})

test('with Redis: the same, through a scan of this app\'s session keys', async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t)
  await sharedCacheCase(t, { backend: 'redis', redisUrl: redis.url })
})

test('with the memory cache: the password changes, and the sessions are said to end at the next restart', async t => {
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, { backend: 'memory' })
  const r = await runCli(['admin', 'reset-password', ADMIN.username], envOf(dir), dir, { stdin: `${NEW_PASSWORD}\r\n` })
  assert.equal(r.code, 0, r.all)
  assert.match(r.out, /Sessions live in the running server's memory \(cache: memory\): .* end when the server restarts\./)
  assert.equal(await canLogIn(app, NEW_PASSWORD), true, 'CR LF is not part of the password')
})

test('a weak password is refused with the wizard\'s reasons, an unknown user is named; nothing changes', async t => {
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, { backend: 'memory' })
  const weak = await runCli(['admin', 'reset-password', ADMIN.username], envOf(dir), dir, { stdin: 'password123\n' })
  assert.equal(weak.code, 1)
  assert.match(weak.err, /This password is refused, nothing was changed:\n {2}This password is too easy to guess\./)
  const short = await runCli(['admin', 'reset-password', ADMIN.username], envOf(dir), dir, { stdin: 'short\n' })
  assert.match(short.err, /Use at least 10 characters\./)
  const empty = await runCli(['admin', 'reset-password', ADMIN.username], envOf(dir), dir, { stdin: '' })
  assert.equal(empty.code, 1)
  assert.match(empty.err, /No password was given/)
  const nobody = await runCli(['admin', 'reset-password', 'nobody'], envOf(dir), dir, { stdin: `${NEW_PASSWORD}\n` })
  assert.equal(nobody.code, 1)
  assert.match(nobody.err, /No administrator is named “nobody”\./)
  assert.equal(await canLogIn(app, ADMIN.password), true)
  const fr = await runCli(['admin', 'reset-password', 'nobody'], { ...envOf(dir), AMORCE_LANG: 'fr' }, dir, { stdin: `${NEW_PASSWORD}\n` })
  assert.match(fr.err, /Aucun administrateur ne s’appelle «\snobody\s»\./)
})

test('from a terminal: raw mode (no echo), asked twice, a mismatch changes nothing', async t => {
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, { backend: 'memory' })
  const run = async (typed: string[]) => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[], setRawMode (mode: boolean) { this.modes.push(mode); return this } })
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    let shown = ''
    stdout.on('data', d => { shown += d })
    stderr.on('data', d => { shown += d })
    const ctx = cliContext({ AMORCE_LANG: 'en', ...envOf(dir) }, dir, { stdin: stdin as unknown as CliIo['stdin'], stdout: stdout as unknown as CliIo['stdout'], stderr: stderr as unknown as CliIo['stderr'] })
    const done = main(['admin', 'reset-password', ADMIN.username], ctx)
    // Keys arrive one chunk at a time once the prompt is up, as a terminal sends them.
    for (const [i, keys] of typed.entries()) {
      const deadline = Date.now() + 10_000
      while ((shown.match(/(New password for admin|Type it again): /g)?.length ?? 0) <= i) {
        if (Date.now() > deadline) throw new Error(`no prompt ${i + 1}:\n${shown}`)
        await new Promise(resolve => setTimeout(resolve, 5))
      }
      stdin.write(keys)
    }
    return { code: await done, shown, modes: stdin.modes }
  }
  const mismatch = await run([`${NEW_PASSWORD}\r`, 'something-else\r'])
  assert.equal(mismatch.code, 1)
  assert.match(mismatch.shown, /The two passwords differ: nothing was changed\./)
  assert.deepEqual(mismatch.modes, [true, false, true, false])
  const ok = await run([`${NEW_PASSWORD}x\u007f\r`, `${NEW_PASSWORD}\r`])
  assert.equal(ok.code, 0, ok.shown)
  assert.match(ok.shown, /^New password for admin: \nType it again: \n/)
  assert.ok(!ok.shown.includes(NEW_PASSWORD), 'nothing typed is echoed')
  assert.equal(await canLogIn(app, NEW_PASSWORD), true, 'backspace removed the extra character')
})
