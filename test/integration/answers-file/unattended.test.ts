// AMORCE_ANSWERS=answers.json at first start: the file (its ${NAME} values from the environment) installs
// without the browser through the steps' own code and checks, on SQLite and on MariaDB; a bad file, or an
// answer a step refuses, leaves the wizard open and logs each problem with its JSON path, and no secret.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Writable } from 'node:stream'
import dotenv from 'dotenv'
import { buildApp } from '../../../server/app.ts'
import { runUnattended } from '../../../server/setup/unattended.ts'
import { Client, tempDir } from '../../helpers/app.ts'
import { adminQuery, createDatabase, createRole, requireServer } from '../../helpers/databases.ts'

const ADMIN_PASSWORD = 'Answers-Lanterne-Ardoise-77'

/** `answers` may be a function of the server's directory: the step resolves a relative file against the process's cwd. */
async function firstStart (t: TestContext, given: unknown, extraEnv: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir(t)
  const answers = typeof given === 'function' ? given(dir) : given
  const file = path.join(dir, 'answers.json')
  await writeFile(file, typeof answers === 'string' ? answers : JSON.stringify(answers))
  const env: NodeJS.ProcessEnv = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), AMORCE_ANSWERS: file, ...extraEnv }
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const app = await buildApp({ env, cwd: dir, logger: { level: 'info', stream } })
  t.after(() => app.close())
  assert.equal(app.amorce.mode, 'setup')
  const result = await runUnattended(app, app.amorce.lifecycle!, env)
  return { dir, app, result, log: lines.join(''), records: lines.map(l => JSON.parse(l) as { msg: string, path?: string }) }
}

const base = (over: Record<string, unknown>) => ({
  version: 1,
  language: 'fr',
  restore: null,
  cache: { backend: 'memory' },
  admin: { username: 'ops', email: 'ops@example.org', password: '${ADMIN_PASSWORD}' },
  ...over
})

test('AMORCE_ANSWERS on SQLite: installed at first start, the .env written from the file, the admin signs in', async t => {
  const { dir, app, result, log } = await firstStart(t, (dir: string) => base({ database: { provider: 'sqlite', file: path.join(dir, 'data/app.db') }, cache: { backend: 'filesystem', dir: path.join(dir, 'data/cache') } }), { ADMIN_PASSWORD })
  assert.equal(result, 'installed', log)
  assert.equal(app.amorce.mode, 'normal')
  assert.match(log, /installing from the answers file/)
  assert.ok(!log.includes(ADMIN_PASSWORD), 'no secret in the log')
  const written = dotenv.parse(await readFile(path.join(dir, '.env'), 'utf8'))
  assert.equal(written.DATABASE_PROVIDER, 'sqlite')
  assert.equal(written.DATABASE_URL, `file:${path.join(dir, 'data', 'app.db')}`)
  assert.equal(written.CACHE_BACKEND, 'filesystem')
  assert.equal(written.APP_LOCALE, 'fr')
  assert.ok(written.APP_INSTALLED_AT)
  const client = new Client(app)
  assert.equal((await client.post('/login', { login: 'ops', password: ADMIN_PASSWORD })).headers.location, '/dashboard')
})

test('AMORCE_ANSWERS on MariaDB: fields with the password from the environment', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  const role = await createRole(t, 'mysql', { allOn: [db.database] })
  const { dir, app, result, log } = await firstStart(t, base({
    database: { provider: 'mysql', host: db.host, port: db.port, user: role.user, password: '${DB_PASSWORD}', database: db.database, ssl: 'off' }
  }), { ADMIN_PASSWORD, DB_PASSWORD: role.password })
  assert.equal(result, 'installed', log)
  assert.equal(app.amorce.mode, 'normal')
  for (const secret of [ADMIN_PASSWORD, role.password, encodeURIComponent(role.password)]) assert.ok(!log.includes(secret), 'no secret in the log')
  const written = dotenv.parse(await readFile(path.join(dir, '.env'), 'utf8'))
  assert.equal(written.DATABASE_PROVIDER, 'mysql')
  assert.match(written.DATABASE_URL, new RegExp(`^mysql://${role.user}:.+@${db.host}:${db.port}/${db.database}`))
  const [[admin]] = await adminQuery('mysql', 'SELECT username, locale FROM `AdminUser`', db.database) as Array<Array<{ username: string, locale: string }>>
  assert.deepEqual({ ...admin }, { username: 'ops', locale: 'fr' })
})

test('a bad answers file: every problem logged with its JSON path, the wizard stays open, nothing written', async t => {
  const { dir, app, result, records, log } = await firstStart(t, base({ database: { provider: 'sqlite', file: 'data/app.db', nope: 1 }, cache: { backend: 'tape' } }))
  assert.equal(result, 'failed')
  assert.equal(app.amorce.mode, 'setup')
  const paths = records.filter(r => r.path).map(r => r.path)
  assert.ok(paths.includes('$.database.nope'), log)
  assert.ok(paths.includes('$.admin.password'), 'ADMIN_PASSWORD is not set: said at its path')
  assert.ok(paths.some(p => p?.startsWith('$.cache')), log)
  assert.match(log, /the wizard stays open/)
  await assert.rejects(stat(path.join(dir, '.env')), 'nothing written')
  assert.equal((await app.inject('/setup/token')).statusCode, 200)
})

test('an answer a step refuses (a weak password, an unreachable database): its JSON path and the step\'s own words', async t => {
  const weak = await firstStart(t, (dir: string) => base({ database: { provider: 'sqlite', file: path.join(dir, 'data/app.db') }, admin: { username: 'ops', email: 'ops@example.org', password: '${WEAK}' } }), { WEAK: 'password123' })
  assert.equal(weak.result, 'failed')
  assert.equal(weak.app.amorce.mode, 'setup')
  const at = weak.records.find(r => r.path === '$.admin.password')
  assert.ok(at, weak.log)
  assert.match(at.msg, /\$\.admin\.password: .*(too easy to guess|trop facile à deviner)/)
  assert.ok(!weak.log.includes('password123'), 'the refused password is not logged')
  await assert.rejects(stat(path.join(weak.dir, '.env')), 'nothing written')

  const down = await firstStart(t, base({ database: { provider: 'postgresql', host: '127.0.0.1', port: 1, user: 'u', password: 'p4ss-Word-never-logged', database: 'd', ssl: 'off' } }), { ADMIN_PASSWORD })
  assert.equal(down.result, 'failed')
  assert.ok(down.records.some(r => r.path?.startsWith('$.database')), down.log)
  assert.match(down.log, /unattended install stopped at the database step/)
  assert.ok(!down.log.includes('p4ss-Word-never-logged'))
})

test('an answers file that asks for what only the browser can do (a backup upload) is refused at its path', async t => {
  const { result, records, log } = await firstStart(t, (dir: string) => base({ database: { provider: 'sqlite', file: path.join(dir, 'data/app.db') }, restore: { file: 'backup.tar.gz' } }), { ADMIN_PASSWORD })
  assert.equal(result, 'failed')
  assert.ok(records.some(r => r.path === '$.restore'), log)
})

test('not JSON, or no such file: said, the wizard stays open', async t => {
  const bad = await firstStart(t, '{ "version": 1, ')
  assert.equal(bad.result, 'failed')
  assert.ok(bad.records.some(r => r.path === '$' && /not valid JSON/.test(r.msg)), bad.log)
  const missing = await firstStart(t, base({}), { AMORCE_ANSWERS: '/nonexistent/answers.json' })
  assert.equal(missing.result, 'failed')
  assert.match(missing.log, /cannot read \/nonexistent\/answers\.json/)
})
