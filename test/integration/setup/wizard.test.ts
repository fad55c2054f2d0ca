// The wizard over HTTP (fastify.inject): token gate, every step's errors, the streamed install,
// the switch to normal mode in the same process, and a restart that stays installed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import dotenv from 'dotenv'
import { createClient } from '@libsql/client'
import { authorizedClient, build, Client, STRONG_PASSWORD, text, walkToFinalize } from '../../helpers/app.ts'

test('setup mode: / leads to the wizard, which asks for the token; health says setup', async t => {
  const { app } = await build(t)
  const root = await app.inject('/')
  assert.equal(root.statusCode, 303)
  assert.equal(root.headers.location, '/setup')
  const setup = await app.inject('/setup/language')
  assert.equal(setup.statusCode, 303)
  assert.equal(setup.headers.location, '/setup/token')
  const health = await app.inject('/health')
  assert.deepEqual(health.json(), { status: 'setup' })
})

test('the token file is private and the token is long enough', async t => {
  const { app, env } = await build(t)
  const { token, tokenFile } = app.amorce.setup!
  assert.ok(token.length >= 32)
  assert.equal(tokenFile, path.join(env.DATA_DIR!, 'setup-token'))
  if (!tokenFile) return
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600)
  assert.equal((await readFile(tokenFile, 'utf8')).trim(), token)
})

test('a wrong token is refused with a localized message; a POST without token is forbidden', async t => {
  const { app } = await build(t)
  const client = new Client(app, { 'accept-language': 'fr-FR,fr;q=0.9' })
  const res = await client.post('/setup/token', { token: 'nope' })
  assert.equal(res.statusCode, 422)
  assert.match(text(res), /Ce jeton n’est pas celui affiché par le serveur/)
  const post = await client.post('/setup/language', { language: 'en' })
  assert.equal(post.statusCode, 403)
})

test('?token= is accepted once and dropped from the address', async t => {
  const { app } = await build(t)
  const client = new Client(app)
  const res = await client.get(`/setup/language?token=${app.amorce.setup!.token}`)
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/setup/language')
  const page = await client.get('/setup/language')
  assert.equal(page.statusCode, 200)
  assert.doesNotMatch(text(page), new RegExp(app.amorce.setup!.token))
})

test('the language defaults from Accept-Language and the switch keeps the step and typed values', async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app, { 'accept-language': 'fr-CA,en;q=0.5' })
  const lang = await client.get('/setup/language')
  assert.match(text(lang), /<html lang="fr">/)
  assert.match(text(lang), /value="fr" checked/)
  await client.post('/setup/language', { language: 'fr', _action: 'next' })
  await client.post('/setup/prerequisites', { _action: 'next' })
  const typed = path.join(dir, 'elsewhere', 'my.db')
  const sw = await client.post('/setup/database', { provider: 'sqlite', file: typed, _lang: 'en' })
  assert.equal(sw.statusCode, 303)
  assert.equal(sw.headers.location, '/setup/database')
  const page = await client.get('/setup/database')
  assert.match(text(page), /<html lang="en">/)
  assert.match(text(page), /Database file/)
  assert.ok(page.body.includes(`value="${typed}"`), 'the typed path survives the switch')
})

test('steps cannot be skipped: a later step redirects to the first incomplete one', async t => {
  const { app } = await build(t)
  const client = await authorizedClient(app)
  const res = await client.get('/setup/admin')
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/setup/language')
})

test('database step: a foreign SQLite database and a non-SQLite file are refused, per field', async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await client.post('/setup/language', { language: 'en', _action: 'next' })
  await client.post('/setup/prerequisites', { _action: 'next' })

  const foreign = path.join(dir, 'foreign.db')
  const db = createClient({ url: `file:${foreign}` })
  await db.execute('CREATE TABLE wp_posts (id INTEGER PRIMARY KEY)')
  db.close()
  const res = await client.post('/setup/database', { provider: 'sqlite', file: foreign, _action: 'next' })
  assert.equal(res.statusCode, 422)
  assert.match(text(res), /already holds another application's tables/)
  assert.match(text(res), /wp_posts/)

  const notes = path.join(dir, 'notes.txt')
  await writeFile(notes, 'hello, this is not a database')
  const res2 = await client.post('/setup/database', { provider: 'sqlite', file: notes, _action: 'test' })
  assert.equal(res2.statusCode, 422)
  assert.match(text(res2), /is not a SQLite database/)

  const underFile = path.join(notes, 'app.db')
  const res3 = await client.post('/setup/database', { provider: 'sqlite', file: underFile, _action: 'next' })
  assert.equal(res3.statusCode, 422)
  // The system's reason in words, not its code.
  assert.match(text(res3), /cannot be created or written \(a part of the path is a file, not a directory\)/)

  const ok = await client.post('/setup/database', { provider: 'sqlite', file: path.join(dir, 'new', 'app.db'), _action: 'test' })
  assert.equal(ok.statusCode, 200)
  assert.match(text(ok), /can be created: a new database will be made there/)
})

test('cache step: an unwritable directory is refused; memory is accepted', async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  for (const [s, f] of [['language', { language: 'en' }], ['prerequisites', {}], ['database', { provider: 'sqlite', file: path.join(dir, 'app.db') }]] as const) {
    assert.equal((await client.post(`/setup/${s}`, { ...f, _action: 'next' })).statusCode, 303)
  }
  await writeFile(path.join(dir, 'afile'), '')
  const bad = await client.post('/setup/cache', { backend: 'filesystem', dir: path.join(dir, 'afile', 'cache'), _action: 'next' })
  assert.equal(bad.statusCode, 422)
  assert.match(text(bad), /cannot be created or written/)
  const mem = await client.post('/setup/cache', { backend: 'memory', _action: 'next' })
  assert.equal(mem.statusCode, 303)
  assert.equal(mem.headers.location, '/setup/restore')
})

test('admin step: weak passwords get a localized reason; the password is never sent back', async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app, { 'accept-language': 'fr' })
  for (const [s, f] of [['language', { language: 'fr' }], ['prerequisites', {}], ['database', { provider: 'sqlite', file: path.join(dir, 'app.db') }], ['cache', { backend: 'memory' }], ['restore', { mode: 'fresh' }]] as const) {
    assert.equal((await client.post(`/setup/${s}`, { ...f, _action: 'next' })).statusCode, 303)
  }
  const weak = await client.post('/setup/admin', { username: 'admin', email: 'admin@example.com', password: 'password123', confirm: 'password123', _action: 'next' })
  assert.equal(weak.statusCode, 422)
  assert.match(text(weak), /Ce mot de passe est trop facile à deviner/)
  assert.doesNotMatch(text(weak), /password123/)

  const short = await client.post('/setup/admin', { username: 'admin', email: 'admin@example.com', password: 'Xy7!', confirm: 'Xy7!', _action: 'next' })
  assert.match(text(short), /Utilisez au moins 10 caractères/)

  const mismatch = await client.post('/setup/admin', { username: 'a', email: 'nope', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD + 'x', _action: 'next' })
  assert.equal(mismatch.statusCode, 422)
  assert.match(text(mismatch), /Utilisez de 3 à 32 lettres/)
  assert.match(text(mismatch), /Saisissez une adresse e-mail valide/)
  assert.ok(!mismatch.body.includes(STRONG_PASSWORD))

  const personal = await client.post('/setup/admin', { username: 'zorbaquix', email: 'zorbaquix.plumtavel@example.org', password: 'zorbaquixplumtavel', confirm: 'zorbaquixplumtavel', _action: 'next' })
  assert.equal(personal.statusCode, 422, 'a password made of the user\'s own name is refused')
  assert.match(text(personal), /données personnelles/)
})

test('a full install: streamed stages, .env 0600, normal mode in the same process, /setup gone, restart stays installed', async t => {
  const { app, dir, env } = await build(t)
  const client = await authorizedClient(app)
  await walkToFinalize(client, dir)

  const summary = await client.get('/setup/finalize')
  assert.equal(summary.statusCode, 200)
  assert.match(text(summary), /admin <admin@example.com>/)
  assert.ok(!summary.body.includes(STRONG_PASSWORD))

  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.equal(install.statusCode, 200)
  for (const stage of ['env', 'migrate', 'restore', 'admin', 'lock', 'switch']) {
    assert.match(text(install), new RegExp(`data-stage="${stage}" data-status="(done|skipped)"`), `stage ${stage} completes`)
  }
  assert.match(text(install), /Installation complete/)
  assert.match(text(install), /href="\/login"/)
  assert.equal(app.amorce.mode, 'normal')

  const envFile = path.join(dir, '.env')
  assert.equal((await stat(envFile)).mode & 0o777, 0o600)
  const written = dotenv.parse(await readFile(envFile, 'utf8'))
  assert.equal(written.DATABASE_PROVIDER, 'sqlite')
  assert.equal(written.DATABASE_URL, `file:${path.join(dir, 'data', 'app.db')}`)
  assert.equal(written.CACHE_BACKEND, 'filesystem')
  assert.equal(written.CACHE_DIR, path.join(dir, 'data', 'cache'))
  assert.equal(written.APP_LOCALE, 'en')
  assert.ok(written.SESSION_SECRET.length >= 32)
  assert.ok(!Number.isNaN(Date.parse(written.APP_INSTALLED_AT)))
  await assert.rejects(stat(path.join(dir, 'data', 'setup-token')), 'the token is removed once installed')

  // Every setup URL, any method, answers 404 now.
  for (const [method, url] of [['GET', '/setup'], ['GET', '/setup/language'], ['POST', '/setup/finalize'], ['POST', '/setup/token'], ['GET', '/setup/anything/else'], ['DELETE', '/setup/admin']] as const) {
    assert.equal((await client.request({ method, url })).statusCode, 404, `${method} ${url}`)
  }
  assert.equal((await client.get('/')).headers.location, '/login')
  assert.deepEqual((await client.get('/health')).json(), { status: 'ok', db: 'ok', cache: 'ok' })

  const bad = await client.post('/login', { login: 'admin', password: 'wrong password' })
  assert.equal(bad.statusCode, 401)
  assert.match(text(bad), /do not match an administrator account/)
  const login = await client.post('/login', { login: 'admin@example.com', password: STRONG_PASSWORD })
  assert.equal(login.statusCode, 303)
  assert.equal(login.headers.location, '/dashboard')
  const dash = await client.get('/dashboard')
  assert.equal(dash.statusCode, 200)
  assert.match(text(dash), /Signed in as admin/)
  assert.match(text(dash), /data-field="provider">SQLite/)
  assert.match(text(dash), /data-field="cache">Directory on disk/)
  assert.match(text(dash), /_init<\/code>/)
  const sid = client.cookieHeader()

  // A restart (a new process reading the same .env) goes straight to normal mode, and the
  // session survives it: it lives in the filesystem cache, signed with the written secret.
  await app.close()
  const again = await build(t, { dir, env })
  assert.equal(again.app.amorce.mode, 'normal')
  assert.equal((await again.app.inject('/setup/language')).statusCode, 404)
  const after = await again.app.inject({ url: '/dashboard', headers: { cookie: String(sid) } })
  assert.equal(after.statusCode, 200)
  assert.match(text(after), /Signed in as admin/)

  const logout = await new Client(again.app, { cookie: String(sid) }).post('/logout', {})
  assert.equal(logout.headers.location, '/login')
})

test('installed but the database is unusable: 503 page and health, never the wizard', async t => {
  const { dir } = { dir: (await build(t)).dir }
  await mkdir(path.join(dir, 'blocker'), { recursive: true })
  await writeFile(path.join(dir, 'blocker', 'file'), '')
  const envFile = path.join(dir, 'installed.env')
  await writeFile(envFile, [
    'DATABASE_PROVIDER=sqlite',
    `DATABASE_URL=file:${path.join(dir, 'blocker', 'file', 'app.db')}`,
    'CACHE_BACKEND=memory',
    `SESSION_SECRET=${'s'.repeat(43)}`,
    'APP_LOCALE=fr',
    'APP_INSTALLED_AT=2026-01-01T00:00:00.000Z'
  ].join('\n') + '\n')
  const { app } = await build(t, { dir, env: { ENV_FILE: envFile } })
  assert.equal(app.amorce.mode, 'unavailable')
  const page = await app.inject({ url: '/login', headers: { 'accept-language': 'fr' } })
  assert.equal(page.statusCode, 503)
  assert.match(text(page), /Momentanément indisponible/)
  assert.equal((await app.inject('/setup')).statusCode, 404)
  assert.equal((await app.inject('/setup/token')).statusCode, 404)
  const health = await app.inject('/health')
  assert.equal(health.statusCode, 503)
  assert.equal(health.json().status, 'error')
})

test('prerequisites: a failing required check is shown with its hint and Next is refused', async t => {
  const { dir } = await build(t)
  await writeFile(path.join(dir, 'not-a-dir'), '')
  // DATA_DIR under a regular file cannot be created: a required check fails.
  const { app } = await build(t, { dir, env: { DATA_DIR: path.join(dir, 'not-a-dir', 'data') } }).catch(() => ({ app: undefined as never }))
  if (!app) return assert.fail('the app must start even when DATA_DIR is unusable, to explain it')
  const client = await authorizedClient(app)
  await client.post('/setup/language', { language: 'en', _action: 'next' })
  const page = await client.get('/setup/prerequisites')
  assert.match(page.body, /data-check="dataDir" data-state="fail"/)
  assert.match(text(page), /Create this directory and give the user running the app write access/)
  assert.match(page.body, /data-check="node" data-state="ok"/)
  const next = await client.post('/setup/prerequisites', { _action: 'next' })
  assert.equal(next.statusCode, 422)
  assert.match(text(next), /1 required check\(s\) failed/)
  assert.equal((await client.get('/setup/database')).headers.location, '/setup/prerequisites')
})

test('going back and changing an answer: later steps are accepted again (prefilled); unchanged, progress stays', async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await walkToFinalize(client, dir)
  assert.equal((await client.get('/setup/finalize')).statusCode, 200)

  // The same database again: nothing after it needs checking again.
  const same = await client.post('/setup/database', { provider: 'sqlite', file: path.join(dir, 'data', 'app.db'), instances: 'single', _action: 'next' })
  assert.equal(same.statusCode, 303)
  assert.equal((await client.get('/setup/finalize')).statusCode, 200)

  // Another database: the cache, restore and admin steps must be accepted again before installing.
  const other = await client.post('/setup/database', { provider: 'sqlite', file: path.join(dir, 'data', 'other.db'), instances: 'single', _action: 'next' })
  assert.equal(other.headers.location, '/setup/cache')
  assert.equal((await client.get('/setup/finalize')).headers.location, '/setup/cache')
  const cache = await client.get('/setup/cache')
  assert.ok(cache.body.includes(path.join(dir, 'data', 'cache')), 'the earlier answer is prefilled')
  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.notEqual(install.statusCode, 200, 'no install with steps to check again')
})
