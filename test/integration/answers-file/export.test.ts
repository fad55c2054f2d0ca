// "Download these answers": the summary page offers the answers file of what was chosen, valid against the
// answers schema, every secret a ${NAME} placeholder listed beside the link, paths under the data directory
// relative; it never holds a secret (as typed, URL-encoded or base64); and that file installs a fresh server
// (AMORCE_ANSWERS, the same step code as the replay's) with the same .env but for secrets and paths.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import dotenv from 'dotenv'
import { buildApp } from '../../../server/app.ts'
import { runUnattended } from '../../../server/setup/unattended.ts'
import { placePath, secretForms } from '../../../server/setup/export.ts'
import { parseAnswers } from '../../../server/replay/answers.ts'
import { authorizedClient, build, Client, STRONG_PASSWORD, tempDir, text } from '../../helpers/app.ts'
import { adminConnection, createDatabase, createRole, requireServer } from '../../helpers/databases.ts'

const REPO = process.cwd()

/** The steps resolve a relative path against the working directory: the test's server runs in its own. */
function inDir (t: TestContext, dir: string): void {
  process.chdir(dir)
  t.after(() => process.chdir(REPO))
}

async function walk (client: Client, steps: Array<[string, Record<string, string>]>): Promise<void> {
  for (const [step, form] of steps) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `${step}: ${text(res).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`)
  }
}

function assertNoSecret (file: string, secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of secretForms(secret)) assert.ok(!file.includes(form), `a form of a secret in the exported file: ${form.slice(0, 3)}…`)
  }
}

async function installFromAnswers (t: TestContext, exported: string, env: NodeJS.ProcessEnv) {
  const dir = await tempDir(t)
  inDir(t, dir)
  await writeFile(path.join(dir, 'answers.json'), exported)
  const fullEnv = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), AMORCE_ANSWERS: 'answers.json', ...env }
  const app = await buildApp({ env: fullEnv, cwd: dir, logger: false })
  t.after(() => app.close())
  assert.equal(await runUnattended(app, app.amorce.lifecycle!, fullEnv), 'installed')
  assert.equal(app.amorce.mode, 'normal')
  return { dir, app, env: dotenv.parse(await readFile(path.join(dir, '.env'), 'utf8')) }
}

test('placePath: relative to the working directory only under the data directory', () => {
  assert.equal(placePath('/srv/app/data/app.db', '/srv/app/data', '/srv/app'), 'data/app.db')
  assert.equal(placePath('/srv/app/data/cache', '/srv/app/data', '/srv/app'), 'data/cache')
  assert.equal(placePath('/var/lib/app.db', '/srv/app/data', '/srv/app'), '/var/lib/app.db', 'outside the data directory: as chosen')
  assert.equal(placePath('/data/app.db', '/data', '/srv/app'), '/data/app.db', 'the working directory does not hold it: absolute')
})

test('SQLite: the summary offers the answers; the file is valid, secret-free, relative; it installs a fresh server the same way', async t => {
  const { app, dir } = await build(t)
  inDir(t, dir)
  const client = await authorizedClient(app)
  // Before the summary, the file is not offered: the wizard goes on where it stopped.
  const early = await client.get('/setup/answers.json')
  assert.equal(early.statusCode, 303)
  await walk(client, [
    ['language', { language: 'fr' }],
    ['prerequisites', {}],
    ['database', { provider: 'sqlite', file: path.join(dir, 'data', 'app.db') }],
    ['cache', { backend: 'filesystem', dir: path.join(dir, 'data', 'cache') }],
    ['restore', { mode: 'fresh' }],
    ['admin', { username: 'chef', email: 'chef@example.org', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD }]
  ])
  const summary = await client.get('/setup/finalize')
  assert.match(text(summary), /Télécharger ces réponses/)
  assert.match(summary.body, /href="\/setup\/answers\.json" download/)
  assert.match(text(summary), /Définissez cette variable d’environnement[^<]*<\/p>\s*<ul[^>]*><li><code>ADMIN_PASSWORD<\/code><\/li><\/ul>/)

  const res = await client.get('/setup/answers.json')
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  assert.match(String(res.headers['content-disposition']), /attachment; filename="answers\.json"/)
  assert.equal(res.headers['cache-control'], 'no-store')
  const exported = res.body
  assertNoSecret(exported, [STRONG_PASSWORD])
  assert.deepEqual(JSON.parse(exported), {
    version: 1,
    language: 'fr',
    database: { provider: 'sqlite', file: 'data/app.db' },
    cache: { backend: 'filesystem', dir: 'data/cache' },
    restore: null,
    admin: { username: 'chef', email: 'chef@example.org', password: '${ADMIN_PASSWORD}' }
  })
  assert.equal(parseAnswers(exported, { ADMIN_PASSWORD: 'x' }).admin.password, 'x', 'valid against the answers schema')

  // This server installs by clicking; a fresh one from the file: the same .env but for secrets and paths.
  assert.match((await client.post('/setup/finalize', { _action: 'install' })).body, /install-done/)
  const first = dotenv.parse(await readFile(path.join(dir, '.env'), 'utf8'))
  // After install, the dashboard offers the admin the same file.
  const admin = new Client(app)
  assert.equal((await admin.post('/login', { login: 'chef', password: STRONG_PASSWORD })).headers.location, '/dashboard')
  const dashboard = await admin.get('/dashboard')
  assert.match(text(dashboard), /<h2 id="answers-h">Les réponses de cette installation<\/h2>/)
  assert.match(dashboard.body, /href="\/dashboard\/answers\.json" download/)
  const again = await admin.get('/dashboard/answers.json')
  assert.equal(again.statusCode, 200)
  assert.match(String(again.headers['content-disposition']), /attachment; filename="answers\.json"/)
  assert.deepEqual(JSON.parse(again.body), JSON.parse(exported))
  assert.equal((await new Client(app).get('/dashboard/answers.json')).statusCode, 303, 'signed-in admins only')

  const second = await installFromAnswers(t, exported, { ADMIN_PASSWORD: STRONG_PASSWORD })
  const comparable = (env: Record<string, string>, home: string) => Object.fromEntries(Object.entries(env)
    .filter(([k]) => !['SESSION_SECRET', 'APP_INSTALLED_AT'].includes(k)).map(([k, v]) => [k, v.replaceAll(home, '<dir>')]))
  assert.deepEqual(Object.keys(second.env).sort(), Object.keys(first).sort())
  assert.deepEqual(comparable(second.env, second.dir), comparable(first, dir))
  // The same admin signs in.
  const login = await new Client(second.app).post('/login', { login: 'chef', password: STRONG_PASSWORD })
  assert.equal(login.headers.location, '/dashboard')
})

test('PostgreSQL: the password is ${DB_PASSWORD} (never the password, in any form); the file installs from the environment\'s password', async t => {
  if (!await requireServer(t, 'postgresql')) return
  const db = await createDatabase(t, 'postgresql')
  const role = await createRole(t, 'postgresql', { allOn: [db.database] })
  const { app, dir } = await build(t)
  inDir(t, dir)
  const client = await authorizedClient(app)
  const pg = adminConnection('postgresql')
  await walk(client, [
    ['language', { language: 'en' }],
    ['prerequisites', {}],
    ['database', { provider: 'postgresql', instances: 'single', host: pg.host, port: String(pg.port), user: role.user, password: role.password, database: db.database, tls: 'off' }],
    ['cache', { backend: 'memory' }],
    ['restore', { mode: 'fresh' }],
    ['admin', { username: 'admin', email: 'admin@example.com', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD }]
  ])
  const summary = text(await client.get('/setup/finalize'))
  assert.match(summary, /Set these 2 environment variables before using the file:<\/p>\s*<ul[^>]*><li><code>DB_PASSWORD<\/code><\/li><li><code>ADMIN_PASSWORD<\/code><\/li><\/ul>/)
  const exported = (await client.get('/setup/answers.json')).body
  assertNoSecret(exported, [role.password, STRONG_PASSWORD])
  assert.deepEqual(JSON.parse(exported).database, { provider: 'postgresql', host: pg.host, port: pg.port, user: role.user, password: '${DB_PASSWORD}', database: db.database, ssl: 'off' })

  // Exported before Install: a fresh server installs onto the still empty database from the file.
  const second = await installFromAnswers(t, exported, { ADMIN_PASSWORD: STRONG_PASSWORD, DB_PASSWORD: role.password })
  assert.equal(second.env.DATABASE_PROVIDER, 'postgresql')
  const url = new URL(second.env.DATABASE_URL)
  assert.deepEqual([url.username, decodeURIComponent(url.password), url.hostname, url.port, url.pathname], [role.user, role.password, pg.host, String(pg.port), `/${db.database}`])
  assert.equal((await new Client(second.app).post('/login', { login: 'admin', password: STRONG_PASSWORD })).headers.location, '/dashboard')
})
