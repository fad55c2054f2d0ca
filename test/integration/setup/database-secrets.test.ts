// A database password is never rendered back nor kept in a draft, however it was typed (the password
// field or inside a pasted URL), after Test, a reload, a language switch or Back; and a password kept for
// one account is never offered to another (another user or host starts with no password).
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { authorizedClient, build, text, type Client } from '../../helpers/app.ts'
import { createDatabase, createRole, requireServer } from '../../helpers/databases.ts'

const SECRET = 'TopSecretPw123'

async function atDatabaseStep (t: TestContext, lang: 'en' | 'fr' = 'en'): Promise<{ app: FastifyInstance, client: Client }> {
  const { app } = await build(t)
  const client = await authorizedClient(app)
  for (const [step, form] of [['language', { language: lang }], ['prerequisites', {}]] as const) {
    assert.equal((await client.post(`/setup/${step}`, { ...form, _action: 'next' })).statusCode, 303)
  }
  return { app, client }
}

/** Every draft the wizard keeps in its (server-side) sessions, as text. */
function drafts (app: FastifyInstance): string {
  const store = app.amorce.sessionStore as unknown as { store: Map<string, { wizard?: { drafts?: unknown } }> }
  return JSON.stringify([...store.store.values()].map(s => s.wizard?.drafts ?? {}))
}

function assertNoSecret (app: FastifyInstance, res: { body: string }, secret: string, what: string) {
  assert.ok(!res.body.includes(secret) && !res.body.includes(encodeURIComponent(secret)), `${what}: the password is in the page`)
  assert.ok(!drafts(app).includes(secret), `${what}: the password is in a draft`)
}

const form = (fields: Record<string, string>) => ({ instances: 'single', provider: 'postgresql', host: '', port: '', user: '', password: '', database: '', tls: 'off', caFile: '', url: '', ...fields })

test('a pasted URL\'s password never comes back: after Test (ok or failed), a reload, a language switch, Back', { timeout: 60_000 }, async t => {
  const { app, client } = await atDatabaseStep(t)
  const cases = [
    // refused: the URL is understood, the test fails
    `postgresql://postgres:${SECRET}@127.0.0.1:1/somedb`,
    // not accepted as a database name: no fields filled, the URL itself is shown again
    `postgresql://postgres:${SECRET}@127.0.0.1:5432/bad%20name`,
    // not a URL the form reads at all
    `postgresql://postgres:${SECRET}@[bad/db`,
    `mysql://root:${SECRET}@127.0.0.1:1/x?sslmode=nonsense`
  ]
  for (const url of cases) {
    const tested = await client.post('/setup/database', form({ url, _action: 'test' }))
    assert.ok(tested.statusCode === 422 || tested.statusCode === 200, `${url}: ${tested.statusCode}`)
    assertNoSecret(app, tested, SECRET, `Test ${url}`)
    assertNoSecret(app, await client.get('/setup/database'), SECRET, `reload ${url}`)
    const switched = await client.post('/setup/database', form({ url, _lang: 'fr' }))
    assert.equal(switched.statusCode, 303)
    assertNoSecret(app, await client.get('/setup/database'), SECRET, `language switch ${url}`)
    assert.equal((await client.post('/setup/database', form({ url, _action: 'back' }))).statusCode, 303)
    assertNoSecret(app, await client.get('/setup/database'), SECRET, `Back ${url}`)
  }
  // What remains of the URL is still shown (without its password), so the user sees what they pasted.
  await client.post('/setup/database', form({ url: cases[1], _action: 'test' }))
  assert.match(text(await client.get('/setup/database')), /postgresql:\/\/postgres@127\.0\.0\.1:5432\/bad%20name/)
})

test('switching user: user A\'s password is not reused for root with an empty password (MariaDB)', { timeout: 60_000 }, async t => {
  if (!await requireServer(t, 'mysql')) return
  const { client } = await atDatabaseStep(t)
  const db = await createDatabase(t, 'mysql')
  const a = await createRole(t, 'mysql', { allOn: [db.database] })
  const fields = { provider: 'mysql', host: '127.0.0.1', port: '3306', database: db.database }
  const asA = await client.post('/setup/database', form({ ...fields, user: a.user, password: a.password, _action: 'test' }))
  assert.equal(asA.statusCode, 200, text(asA).match(/role="alert"[\s\S]{0,300}/)?.[0])
  assert.ok(text(asA).includes('A password is saved: leave this empty to keep it'))

  // root's password is empty on this server: with A's password it would be refused.
  const asRoot = await client.post('/setup/database', form({ ...fields, user: 'root', password: '', _action: 'test' }))
  assert.equal(asRoot.statusCode, 200, text(asRoot).match(/role="alert"[\s\S]{0,300}/)?.[0])
  assert.ok(!text(asRoot).includes('A password is saved'), 'no password is kept for root')

  // Back to A with an empty password: A's own password is still kept for A.
  const backToA = await client.post('/setup/database', form({ ...fields, user: a.user, password: '', _action: 'test' }))
  assert.equal(backToA.statusCode, 200, text(backToA).match(/role="alert"[\s\S]{0,300}/)?.[0])

  // Accepted as A, then another host: the accepted answer's password is not offered there either.
  assert.equal((await client.post('/setup/database', form({ ...fields, user: a.user, _action: 'next' }))).statusCode, 303)
  const otherHost = await client.post('/setup/database', form({ ...fields, host: 'localhost', user: a.user, password: '', _action: 'test' }))
  assert.equal(otherHost.statusCode, 422)
  assert.ok(!text(otherHost).includes('A password is saved'))
})

test('a pasted URL with another user than the kept password\'s does not get that password', { timeout: 60_000 }, async t => {
  if (!await requireServer(t, 'mysql')) return
  const { client } = await atDatabaseStep(t)
  const db = await createDatabase(t, 'mysql')
  const a = await createRole(t, 'mysql', { allOn: [db.database] })
  const urlA = `mysql://${encodeURIComponent(a.user)}:${encodeURIComponent(a.password)}@127.0.0.1:3306/${db.database}`
  assert.equal((await client.post('/setup/database', form({ url: urlA, _action: 'test' }))).statusCode, 200)
  const root = await client.post('/setup/database', form({ url: `mysql://root@127.0.0.1:3306/${db.database}`, _action: 'test' }))
  assert.equal(root.statusCode, 200, text(root).match(/role="alert"[\s\S]{0,300}/)?.[0])
})
