// The database step over HTTP, in English and French, against the real servers: the test action without
// JavaScript, a pasted URL filling the fields, "Create it", the kept password, the multi-instance rule, the
// confirmation for other tables, and the install summary without the password.
import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { authorizedClient, build, text, type Client } from '../../helpers/app.ts'
import { adminConnection, adminQuery, createDatabase, createRole, dropAfter, requireServer, uniqueName } from '../../helpers/databases.ts'

import { refusedPort } from '../../helpers/net.ts'
import { buildDatabaseUrl } from '../../../server/db/engines/index.ts'

async function atDatabaseStep (t: Parameters<typeof build>[0], lang: 'en' | 'fr' = 'en'): Promise<{ client: Client, dir: string }> {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  for (const [step, form] of [['language', { language: lang }], ['prerequisites', {}]] as const) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `${step}: ${res.body.slice(0, 200)}`)
  }
  return { client, dir }
}

const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ')

const serverForm = (fields: Record<string, string>) => ({ instances: 'single', provider: 'postgresql', host: '127.0.0.1', port: '', user: 'postgres', password: '', database: 'postgres', tls: 'off', caFile: '', url: '', ...fields })

test('the database step offers the three engines, the instances question, TLS modes and the test button, in English and French', async t => {
  for (const [lang, words] of [['en', ['SQLite (embedded)', 'PostgreSQL', 'MySQL / MariaDB', 'Will several instances of the application run behind a load balancer?', 'Required and verified', 'Test connection', 'Connection URL (optional)']],
    ['fr', ['SQLite (intégrée)', 'MySQL / MariaDB', 'Plusieurs instances de l’application tourneront-elles derrière un répartiteur de charge ?', 'Exigé et vérifié', 'Tester la connexion', 'URL de connexion (facultative)']]] as const) {
    const { client } = await atDatabaseStep(t, lang)
    const page = await client.get('/setup/database')
    assert.equal(page.statusCode, 200)
    // French no-break spaces (before « ? », inside « ») compare as spaces.
    for (const word of words) assert.ok(plain(text(page)).includes(word), `${lang}: ${word}`)
    assert.match(page.body, /<script src="\/public\/js\/setup.js" defer><\/script>/)
    assert.match(page.body, /data-test-result/)
    assert.match(page.body, /name="instances" value="single" checked/)
  }
})

test('without JavaScript, "Test connection" on a wrong port answers 422 with the cause and its hint (en, fr)', async t => {
  if (!await requireServer(t, 'postgresql')) return
  const port = String(await refusedPort())
  for (const [lang, cause, hint] of [
    ['en', `Nothing accepts connections at 127.0.0.1:${port}.`, 'Check the port and that the database server is running.'],
    ['fr', `Rien n’accepte de connexion sur 127.0.0.1:${port}.`, 'Vérifiez le port et que le serveur de bases de données est démarré.']
  ] as const) {
    const { client } = await atDatabaseStep(t, lang)
    const res = await client.post('/setup/database', { ...serverForm({ port }), _action: 'test' })
    assert.equal(res.statusCode, 422)
    assert.ok(plain(text(res)).includes(cause), text(res).match(/role="alert"[\s\S]{0,400}/)?.[0])
    assert.ok(plain(text(res)).includes(hint))
    assert.match(res.body, /data-outcome="refused"/)
    // The answer was not accepted.
    assert.equal((await client.get('/setup/cache')).headers.location, '/setup/database')
  }
})

test('each cause has its own localized message: dns, auth, TLS, privileges (fr)', async t => {
  if (!await requireServer(t, 'mysql')) return
  const { client } = await atDatabaseStep(t, 'fr')
  const db = await createDatabase(t, 'mysql')
  const weak = await createRole(t, 'mysql', { grants: [{ database: db.database, privileges: 'SELECT' }] })
  const base = { provider: 'mysql', host: '127.0.0.1', port: '3306', user: weak.user, password: weak.password, database: db.database }
  const cases: Array<[Record<string, string>, string]> = [
    [{ host: 'amorce-db.invalid' }, 'Le nom d’hôte « amorce-db.invalid » est introuvable.'],
    [{ password: 'wrong-password' }, `Le serveur a refusé le nom d’utilisateur ou le mot de passe de « ${weak.user} ».`],
    [{ tls: 'required' }, 'Le serveur ne propose pas de connexion chiffrée (TLS).'],
    [{}, `Il manque à l’utilisateur « ${weak.user} » des privilèges dont l’application a besoin : CREATE.`]
  ]
  for (const [fields, message] of cases) {
    const res = await client.post('/setup/database', { ...serverForm({ ...base, ...fields }), _action: 'test' })
    assert.equal(res.statusCode, 422)
    assert.ok(plain(text(res)).includes(message), `${message}\n${text(res).match(/role="alert"[\s\S]{0,500}/)?.[0]}`)
    assert.ok(!res.body.includes(weak.password), 'the password is never sent back')
  }
})

test('a pasted URL (special characters in the password) fills the fields; the password is never echoed, and kept for Next', async t => {
  if (!await requireServer(t, 'mysql')) return
  const { client } = await atDatabaseStep(t)
  const db = await createDatabase(t, 'mysql')
  const role = await createRole(t, 'mysql', { allOn: [db.database] })
  const url = buildDatabaseUrl({ ...adminConnection('mysql'), user: role.user, password: role.password, database: db.database, tls: 'off', caFile: '' }).replace(/^mysql:/, 'mariadb:')
  const tested = await client.post('/setup/database', { instances: 'single', provider: 'postgresql', url, host: '', port: '', user: '', password: '', database: '', tls: 'off', _action: 'test' })
  assert.equal(tested.statusCode, 200, text(tested).match(/role="alert"[\s\S]{0,400}/)?.[0])
  assert.ok(text(tested).includes(`The database “${db.database}” is empty and the account has every privilege needed`))
  assert.match(tested.body, /name="provider" value="mysql" checked/)
  assert.match(tested.body, new RegExp(`id="f-user" name="user" type="text" value="${role.user}"`))
  assert.match(tested.body, new RegExp(`id="f-database" name="database" type="text" value="${db.database}"`))
  assert.ok(!tested.body.includes(role.password) && !tested.body.includes(encodeURIComponent(role.password)), 'the password is never sent back')
  assert.ok(text(tested).includes('A password is saved: leave this empty to keep it'))
  // Next with the fields as re-rendered and an empty password: the saved one is used.
  const next = await client.post('/setup/database', { ...serverForm({ provider: 'mysql', port: '3306', user: role.user, database: db.database }), _action: 'next' })
  assert.equal(next.statusCode, 303, text(next).match(/role="alert"[\s\S]{0,400}/)?.[0])
  assert.equal(next.headers.location, '/setup/cache')
  // Back on the step: the password is still not in the page, and still kept.
  const again = await client.get('/setup/database')
  assert.ok(!again.body.includes(role.password))
  assert.match(again.body, /name="provider" value="mysql" checked/)
})

test('a missing database: "Create it" is offered, creates it, and the step then accepts it', async t => {
  if (!await requireServer(t, 'postgresql')) return
  const { client } = await atDatabaseStep(t)
  const name = uniqueName()
  dropAfter(t, 'postgresql', name)
  const form = serverForm({ database: name })
  const missing = await client.post('/setup/database', { ...form, _action: 'next' })
  assert.equal(missing.statusCode, 422)
  assert.ok(text(missing).includes(`The database “${name}” does not exist.`))
  assert.match(missing.body, /<button type="submit" name="_action" value="create"/)
  const created = await client.post('/setup/database', { ...form, _action: 'create' })
  assert.equal(created.statusCode, 200, text(created).match(/role="alert"[\s\S]{0,400}/)?.[0])
  assert.ok(text(created).includes(`The database “${name}” was created.`))
  assert.ok(text(created).includes('is empty and the account has every privilege needed'))
  const exists = await adminQuery('postgresql', `SELECT 1 FROM pg_database WHERE datname = '${name}'`) as unknown[][]
  assert.equal(exists[0].length, 1)
  assert.equal((await client.post('/setup/database', { ...form, _action: 'next' })).statusCode, 303)
})

test('several instances: SQLite is refused with the reason; a server is accepted and the flag is kept', async t => {
  if (!await requireServer(t, 'postgresql')) return
  const { client, dir } = await atDatabaseStep(t)
  const sqlite = await client.post('/setup/database', { instances: 'multiple', provider: 'sqlite', file: path.join(dir, 'app.db'), _action: 'next' })
  assert.equal(sqlite.statusCode, 422)
  assert.ok(text(sqlite).includes('SQLite cannot be shared by several instances'))
  const db = await createDatabase(t, 'postgresql')
  const ok = await client.post('/setup/database', { ...serverForm({ instances: 'multiple', database: db.database }), _action: 'next' })
  assert.equal(ok.statusCode, 303, text(ok).match(/role="alert"[\s\S]{0,400}/)?.[0])
  const back = await client.get('/setup/database')
  assert.match(back.body, /name="instances" value="multiple" checked/)
})

test('a database holding other tables needs the explicit confirmation', async t => {
  if (!await requireServer(t, 'postgresql')) return
  const { client } = await atDatabaseStep(t, 'fr')
  const db = await createDatabase(t, 'postgresql')
  await adminQuery('postgresql', 'CREATE TABLE wp_posts (id INTEGER PRIMARY KEY)', db.database)
  const form = serverForm({ database: db.database })
  const tested = await client.post('/setup/database', { ...form, _action: 'test' })
  assert.equal(tested.statusCode, 200)
  assert.ok(plain(text(tested)).includes(`La base « ${db.database} » contient déjà d’autres tables (wp_posts…).`))
  assert.match(tested.body, /type="checkbox" name="confirmOtherTables" value="yes"/)
  const refused = await client.post('/setup/database', { ...form, _action: 'next' })
  assert.equal(refused.statusCode, 422)
  assert.ok(plain(text(refused)).includes('Cochez la case pour confirmer l’installation à côté des tables existantes'))
  const accepted = await client.post('/setup/database', { ...form, confirmOtherTables: 'yes', _action: 'next' })
  assert.equal(accepted.statusCode, 303)
})

test('the install summary names the server, user and database, never the password', async t => {
  if (!await requireServer(t, 'mysql')) return
  const { client } = await atDatabaseStep(t)
  const db = await createDatabase(t, 'mysql')
  const role = await createRole(t, 'mysql', { allOn: [db.database] })
  const res = await client.post('/setup/database', { ...serverForm({ provider: 'mysql', port: '3306', user: role.user, password: role.password, database: db.database }), _action: 'next' })
  assert.equal(res.statusCode, 303, text(res).match(/role="alert"[\s\S]{0,400}/)?.[0])
  for (const [step, form] of [['cache', { backend: 'memory' }], ['restore', { mode: 'fresh' }], ['admin', { username: 'admin', email: 'admin@example.com', password: 'Correct-Horse-Battery-Staple-42', confirm: 'Correct-Horse-Battery-Staple-42' }]] as const) {
    const r = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(r.statusCode, 303, `${step}: ${text(r).match(/class="error"[^>]*>[^<]*/)?.[0]}`)
  }
  const summary = await client.get('/setup/finalize')
  assert.ok(text(summary).includes(`MySQL / MariaDB — ${role.user}@127.0.0.1:3306/${db.database} (Off)`), text(summary).match(/<dl[\s\S]{0,800}/)?.[0])
  assert.ok(!summary.body.includes(role.password) && !summary.body.includes(encodeURIComponent(role.password)))
})
