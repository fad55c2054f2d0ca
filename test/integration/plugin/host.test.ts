// A host app on the public entry: the plugin on the host's own Fastify, its normal-mode plugin served only
// once installed (and a localized 503 when its database is away), its languages, brand, views and texts.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import test, { type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import amorce, { createServer, type AmorceOptions } from '../../../server/index.ts'
import reference from '../../../server/app/index.ts'
import { installedEnv, writeEnv } from '../cache/installed.ts'
import { authorizedClient, tempDir, text } from '../../helpers/app.ts'

/** A host unlike the reference app: its own name, root, normal mode; the reference schema stands for its tables. */
function host (root: string, extra: Partial<AmorceOptions> = {}): AmorceOptions {
  return {
    name: 'Notes',
    root,
    schema: { ...reference.schema, migrationsDir: reference.schema.migrationsDir ?? (p => path.join(reference.root, 'prisma', p, 'migrations')) },
    admin: reference.admin,
    async app (fastify) {
      fastify.get('/notes', async () => {
        const rows = await fastify.amorce.db.$queryRawUnsafe<Array<{ n: number | bigint }>>('SELECT 1 AS n')
        await fastify.amorce.cache.set('notes:seen', 'yes', 60_000)
        return { n: Number(rows[0].n), cache: await fastify.amorce.cache.get('notes:seen'), provider: fastify.amorce.config.values.databaseProvider }
      })
      fastify.post('/notes', async () => ({ created: true }))
    },
    ...extra
  }
}

async function hostServer (t: TestContext, options: AmorceOptions & { env?: NodeJS.ProcessEnv }): Promise<FastifyInstance> {
  const env = { DATA_DIR: path.join(options.root, 'data'), ENV_FILE: path.join(options.root, '.env'), LOG_LEVEL: 'silent', ...options.env }
  const app = await createServer({ ...options, env, cwd: options.root, logger: false })
  t.after(() => app.close())
  return app
}

async function installed (dir: string, db?: { provider: string, url: string }): Promise<void> {
  await mkdir(path.join(dir, 'data'), { recursive: true })
  await writeEnv(path.join(dir, '.env'), installedEnv(dir, { backend: 'memory' }, db))
}

test('the plugin on a host\'s own Fastify instance: the wizard, and the host\'s routes held back until the install', async t => {
  const dir = await tempDir(t)
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  app.get('/own', async () => ({ mine: true }))
  await app.register(amorce, { ...host(dir), env: { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, cwd: dir })

  assert.equal(app.amorce.mode, 'setup')
  assert.equal(app.amorce.definition.name, 'Notes')
  assert.deepEqual((await app.inject('/own')).json(), { mine: true }, 'the host\'s routes outside Amorce are its own')
  const page = await app.inject('/notes?x=1')
  assert.equal(page.statusCode, 303)
  assert.equal(page.headers.location, '/setup?x=1')
  const post = await app.inject({ method: 'POST', url: '/notes', payload: {} })
  assert.equal(post.statusCode, 303, 'a form posted before the install lands on the wizard too')
  assert.equal(post.headers.location, '/setup')
  assert.equal(app.amorce.runtime, undefined, 'and nothing of the host ran')
  assert.throws(() => app.amorce.db, /normal mode only/)
  const token = await app.inject('/setup/token')
  assert.equal(token.statusCode, 200)
  assert.match(token.body, /<title>Setup token · Notes<\/title>/)
})

test('installed: the host\'s normal mode is served with the database, the cache and the configuration; /setup is gone', async t => {
  const dir = await tempDir(t)
  await installed(dir)
  const app = await hostServer(t, host(dir))
  assert.equal(app.amorce.mode, 'normal')
  const res = await app.inject('/notes')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { n: 1, cache: 'yes', provider: 'sqlite' })
  assert.equal((await app.inject('/setup/token')).statusCode, 404)
  assert.equal((await app.inject('/health')).json().status, 'ok')
})

test('installed but the database is away: the host\'s routes answer a localized 503, never the wizard', async t => {
  const dir = await tempDir(t)
  // Port 1 on the loopback: nothing listens, the connection is refused at once.
  await installed(dir, { provider: 'postgresql', url: 'postgresql://amorce@127.0.0.1:1/notes' })
  const app = await hostServer(t, host(dir))
  assert.equal(app.amorce.mode, 'unavailable')
  for (const method of ['GET', 'POST'] as const) {
    const res = await app.inject({ method, url: '/notes', headers: { 'accept-language': 'fr' }, ...(method === 'POST' ? { payload: {} } : {}) })
    assert.equal(res.statusCode, 503, method)
    assert.equal(res.headers['retry-after'], '5')
    assert.match(text(res), /base de données/, `${method}: in French`)
    assert.doesNotMatch(res.body, /setup/i, `${method}: no way back to the wizard`)
  }
})

test('one language: no switcher, and every visitor gets it', async t => {
  const dir = await tempDir(t)
  const app = await hostServer(t, host(dir, { languages: ['fr'] }))
  const res = await app.inject({ url: '/setup/token', headers: { 'accept-language': 'en' } })
  assert.match(res.body, /<html lang="fr">/)
  assert.doesNotMatch(res.body, /class="lang"/)
  const asked = await app.inject({ url: '/setup/token?lang=en' })
  assert.match(asked.body, /<html lang="fr">/, 'a language not offered is not taken from the query either')
})

test('a third language from the host\'s locales: negotiated, in the switcher, its texts over English ones', async t => {
  const dir = await tempDir(t)
  await mkdir(path.join(dir, 'locales', 'de', 'setup'), { recursive: true })
  await writeFile(path.join(dir, 'locales', 'de', 'setup', 'token.json'), JSON.stringify({ title: 'Setup-Schlüssel' }))
  const app = await hostServer(t, host(dir, { languages: ['en', 'fr', 'de'] }))
  const res = await app.inject({ url: '/setup/token', headers: { 'accept-language': 'de-DE,de;q=0.9' } })
  assert.match(res.body, /<html lang="de">/)
  assert.match(text(res), /<h1>Setup-Schlüssel<\/h1>/)
  assert.match(text(res), /Paste the token exactly as printed/, 'what the host did not translate falls back to English')
  assert.match(res.body, /hreflang="de"|lang="de">Deutsch/, 'the switcher offers it, named in its own words')
  assert.match(text(res), /Deutsch/)
  const en = await app.inject({ url: '/setup/token', headers: { 'accept-language': 'en' } })
  assert.match(en.body, /hreflang="de">Deutsch</)

  // The language step offers it and takes it.
  const client = await authorizedClient(app)
  const step = await client.get('/setup/language')
  assert.match(step.body, /name="language" value="de"/)
  const chosen = await client.post('/setup/language', { language: 'de', _action: 'next' })
  assert.equal(chosen.statusCode, 303, chosen.body.slice(0, 300))
  assert.match(String(chosen.headers['set-cookie']), /amorce\.lang=de/)
})

test('an install whose default language is a host\'s third one starts (APP_LOCALE=de is one of its languages)', async t => {
  const dir = await tempDir(t)
  await mkdir(path.join(dir, 'data'), { recursive: true })
  await writeEnv(path.join(dir, '.env'), { ...installedEnv(dir, { backend: 'memory' }), APP_LOCALE: 'de' })
  const app = await hostServer(t, host(dir, { languages: ['en', 'fr', 'de'] }))
  assert.equal(app.amorce.mode, 'normal')
  assert.equal(app.amorce.config.values.appLocale, 'de')
  const res = await app.inject({ url: '/nowhere' })
  assert.match(res.body, /<html lang="de">/, 'a visitor without a preference gets the install\'s language')
  await assert.rejects(hostServer(t, host(dir)), /APP_LOCALE must be one of en, fr/, 'an app without it refuses that configuration')
})

test('brand: the name, the logo and a stylesheet after Amorce\'s', async t => {
  const dir = await tempDir(t)
  const app = await hostServer(t, host(dir, { brand: { name: 'Carnet', logo: '/static/logo.svg', stylesheet: '/static/carnet.css' } }))
  const res = await app.inject('/setup/token')
  assert.match(res.body, /<title>Setup token · Carnet<\/title>/)
  assert.match(res.body, /<span class="brand"><img class="logo" src="\/static\/logo.svg" alt=""> Carnet<\/span>/)
  assert.ok(res.body.indexOf('/public/app.css') < res.body.indexOf('href="/static/carnet.css"'), 'the host\'s stylesheet comes after')
})

test('a host overrides a page and a text of Amorce\'s by files of the same name in its own views and locales', async t => {
  const dir = await tempDir(t)
  await mkdir(path.join(dir, 'views'), { recursive: true })
  await mkdir(path.join(dir, 'locales', 'en'), { recursive: true })
  await writeFile(path.join(dir, 'views', 'error.eta'), '<% layout(\'/layouts/main\', { title: it.t(it.messageKey + \'Title\') }) %><p class="notes-error"><%= it.t(it.messageKey) %></p>')
  await writeFile(path.join(dir, 'locales', 'en', 'errors.json'), JSON.stringify({ notFound: 'No note lives here.' }))
  const app = await hostServer(t, host(dir))
  const res = await app.inject('/nowhere')
  assert.equal(res.statusCode, 404)
  assert.match(res.body, /<p class="notes-error">No note lives here\.<\/p>/)
  assert.match(res.body, /<title>Page not found · Notes<\/title>/, 'the layout and the other texts stay Amorce\'s')
  const fr = await app.inject({ url: '/nowhere', headers: { 'accept-language': 'fr' } })
  assert.match(text(fr), /<p class="notes-error">Il n’y a pas de page à cette adresse\.<\/p>/, 'the page is the host\'s in French too; the text it did not override is Amorce\'s')
})
