// Upgrade safety: an install made by Amorce 0.2.0 (test/fixtures/upgrade-0.2.0, made before the plugin
// redesign) starts in normal mode with the current code, its administrator signs in with the password
// set then, and its backup restores into a new install through the wizard.
import assert from 'node:assert/strict'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { authorizedClient, build, Client, STRONG_PASSWORD, tempDir, text } from '../../helpers/app.ts'
import { repoRoot } from '../../helpers/server.ts'

const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'upgrade-0.2.0')
const MADE_IN = '/tmp/amorce-upgrade-fixture'

/** The fixture's install, moved into `dir` (its `.env` paths follow it). */
async function placeInstall (dir: string): Promise<void> {
  await mkdir(path.join(dir, 'data', 'cache'), { recursive: true })
  await copyFile(path.join(FIXTURE, 'app.db'), path.join(dir, 'data', 'app.db'))
  const env = await readFile(path.join(FIXTURE, 'env'), 'utf8')
  assert.ok(env.includes(MADE_IN), 'the fixture names the directory it was made in')
  await writeFile(path.join(dir, '.env'), env.split(MADE_IN).join(dir), { mode: 0o600 })
}

async function signIn (client: Client, login: string, password: string): Promise<void> {
  await client.get('/login')
  const res = await client.post('/login', { login, password })
  assert.equal(res.statusCode, 303, text(res).match(/role="alert"[^>]*>([^<]*)/)?.[1])
  assert.equal(res.headers.location, '/dashboard')
}

test('an install made by 0.2.0 starts in normal mode, and its administrator signs in and finds its settings', async t => {
  const dir = await tempDir(t)
  await placeInstall(dir)
  const { app } = await build(t, { dir })
  assert.equal(app.amorce.mode, 'normal')
  const client = new Client(app)
  assert.equal((await client.get('/setup')).statusCode, 404, 'never the wizard again')
  await signIn(client, 'héloïse', STRONG_PASSWORD)
  const dashboard = await client.get('/dashboard')
  assert.equal(dashboard.statusCode, 200)
  assert.match(text(dashboard), /Bibliothèque « Les Tilleuls »/)
  const health = await client.get('/health')
  assert.equal(health.statusCode, 200)
  assert.equal(JSON.parse(health.body).status, 'ok')
})

test('the backup made by 0.2.0 restores into a new install, whose restored administrator signs in', async t => {
  const dir = await tempDir(t)
  const backup = path.join(dir, 'backup-0.2.0.tar.gz')
  await copyFile(path.join(FIXTURE, 'backup.tar.gz'), backup)
  const { app } = await build(t, { dir })
  assert.equal(app.amorce.mode, 'setup')
  const client = await authorizedClient(app)
  const steps: Array<[string, Record<string, string>]> = [
    ['language', { language: 'en' }],
    ['prerequisites', {}],
    ['database', { provider: 'sqlite', file: path.join(dir, 'data', 'restored.db') }],
    ['cache', { backend: 'memory' }]
  ]
  for (const [step, form] of steps) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `step ${step}: ${text(res).match(/class="error"[^>]*>([^<]*)/)?.[1]}`)
  }
  const checked = await client.post('/setup/restore', { mode: 'path', path: backup, _action: 'verify' })
  assert.equal(checked.statusCode, 200, text(checked).match(/role="alert"[^>]*>([^<]*)/)?.[1])
  assert.match(text(checked), /héloïse/)
  assert.equal((await client.post('/setup/restore', { mode: 'path', confirm: '1', _action: 'next' })).headers.location, '/setup/admin')
  assert.equal((await client.post('/setup/admin', { accounts: 'keep', _action: 'next' })).headers.location, '/setup/finalize')
  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(text(install), /Installation complete/, text(install).match(/role="alert">([^<]*)/)?.[1])
  assert.equal(app.amorce.mode, 'normal')
  const user = new Client(app)
  await signIn(user, 'héloïse', STRONG_PASSWORD)
  assert.match(text(await user.get('/dashboard')), /Bibliothèque « Les Tilleuls »/)
})
