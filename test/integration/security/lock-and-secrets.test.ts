// After install every setup route answers 404, whatever the method; and a full install with
// distinctive secrets shows none of them in any response body, header or log line.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import path from 'node:path'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildApp } from '../../../server/app.ts'
import { build, Client, tempDir, wizardAnswers } from '../../helpers/app.ts'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/** A client that keeps every response (status, headers, body) for later inspection. */
class RecordingClient extends Client {
  readonly seen: string[] = []
  constructor (app: FastifyInstance, headers: Record<string, string> = {}) { super(app, headers) }
  override async request (opts: InjectOptions) {
    const res = await super.request(opts)
    this.seen.push(`${res.statusCode}\n${JSON.stringify(res.headers)}\n${res.body}`)
    return res
  }
}

async function install (client: Client, dir: string, admin: { username: string, email: string, password: string }, lang: 'en' | 'fr' = 'en') {
  for (const [step, form] of wizardAnswers(dir, { lang, admin })) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `step ${step}: ${res.body.slice(0, 400)}`)
  }
  const done = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(done.body, /install-done/, 'the install completes')
}

test('after install, every registered /setup route answers 404 for every method', async t => {
  const { app, dir } = await build(t)
  const client = new Client(app)
  await client.post('/setup/token', { token: app.amorce.setup!.token })
  await install(client, dir, { username: 'admin', email: 'admin@example.com', password: 'Correct-Horse-Battery-Staple-42' })
  assert.equal(app.amorce.mode, 'normal')

  // Every route registered under /setup, including any added later, plus addresses nobody registered.
  const urls = new Set(app.routeTable.filter(r => r.url.startsWith('/setup')).map(r => r.url.replace(/:step/g, 'admin')))
  assert.ok(urls.size >= 7, [...urls].join(', '))
  for (const extra of ['/setup', '/setup/', '/setup/unknown', '/setup/admin/deeper', '/setup/install/env', '/setup/resume', '/setup/token?token=x']) urls.add(extra)
  let checked = 0
  for (const url of urls) {
    for (const method of METHODS) {
      const res = await client.request({ method, url, payload: method === 'GET' || method === 'HEAD' ? undefined : '_action=install&token=x' , headers: method === 'GET' || method === 'HEAD' ? {} : { 'content-type': 'application/x-www-form-urlencoded' } })
      assert.equal(res.statusCode, 404, `${method} ${url}`)
      checked++
    }
  }
  assert.ok(checked >= 70)
  // The lock holds per request: nothing reopens it but removing APP_INSTALLED_AT and restarting.
  assert.equal(app.amorce.mode, 'normal')
})

test('a full install with distinctive secrets: none appears in any response or log line', async t => {
  const dir = await tempDir(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const env = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }
  const app = await buildApp({ env, cwd: dir, logger: { level: 'trace', stream } })
  t.after(() => app.close())

  const adminPassword = 'Qx7-Vermillion-Walrus-Sextant-9931'
  const redisPassword = 'Rz4-Tangerine-Osprey-Quill-5527'
  const token = app.amorce.setup!.token
  const sessionSecret = app.amorce.setup!.sessionSecret
  const client = new RecordingClient(app)

  // Wrong attempts and mistakes first: error pages must not echo what was typed.
  await client.post('/setup/token', { token: `${token}x` })
  await client.get(`/setup/language?token=${token}`)
  await client.post('/setup/language', { language: 'en', _action: 'next' })
  await client.post('/setup/prerequisites', { _action: 'next' })
  await client.post('/setup/database', { provider: 'sqlite', file: path.join(dir, 'data', 'app.db'), _action: 'next' })
  // A Redis password tried and refused (the local Redis has none, or is absent): never echoed.
  for (const action of ['test', 'next']) {
    await client.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: 'redis://127.0.0.1:6379/0', redisPassword, _action: action })
    await client.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `redis://:${redisPassword}@127.0.0.1:1/0`, _action: action })
  }
  await client.post('/setup/cache', { backend: 'filesystem', dir: path.join(dir, 'data', 'cache'), _action: 'next' })
  await client.post('/setup/restore', { mode: 'fresh', _action: 'next' })
  await client.post('/setup/admin', { username: 'root', email: 'root@example.com', password: adminPassword, confirm: `${adminPassword}-typo`, _action: 'next' })
  await client.post('/setup/admin', { username: 'root', email: 'root@example.com', password: adminPassword, confirm: adminPassword, _lang: 'fr' })
  await client.post('/setup/admin', { username: 'root', email: 'root@example.com', password: adminPassword, confirm: adminPassword, _action: 'next' })
  await client.get('/setup/admin')
  await client.get('/setup/finalize')
  const done = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(done.body, /install-done/)
  await client.post('/login', { login: 'root', password: `${adminPassword}-wrong` })
  await client.post('/login', { login: 'root', password: adminPassword })
  await client.get('/dashboard')
  await client.get('/health')
  await client.post('/logout', {})

  const written = (await import('dotenv')).parse(await (await import('node:fs/promises')).readFile(env.ENV_FILE, 'utf8'))
  assert.equal(written.SESSION_SECRET, sessionSecret, 'the secret checked is the one written')
  const secrets = { adminPassword, token, sessionSecret, redisPassword }
  assert.ok(client.seen.length >= 18 && lines.length > 20, `${client.seen.length} responses, ${lines.length} log lines`)
  for (const [name, value] of Object.entries(secrets)) {
    for (const body of client.seen) assert.ok(!body.includes(value), `${name} in a response: ${body.slice(0, 200)}`)
    for (const line of lines) assert.ok(!line.includes(value), `${name} in the log: ${line.slice(0, 300)}`)
    // encodings a template or a URL could use
    for (const encoded of [encodeURIComponent(value), Buffer.from(value).toString('base64')]) {
      for (const body of client.seen) assert.ok(!body.includes(encoded), `${name} (encoded) in a response`)
      for (const line of lines) assert.ok(!line.includes(encoded), `${name} (encoded) in the log`)
    }
  }
})
