// A host step (test/fixtures/host-step: a module, its view in the host's views, its texts in the host's locales)
// added with one line to the step list is walked like Amorce's own: in the stepper, validated (422 per field),
// in the summary, preset by its environment key, its stage run by the install, in the generated answers schema.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { buildApp, referenceDefinition } from '../../../server/app.ts'
import { createRegistry, defaultSteps } from '../../../server/setup/registry.ts'
import { parseAnswers, AnswersError } from '../../../server/replay/answers.ts'
import { SITE_SETTING, siteStep } from '../../fixtures/host-step/site.ts'
import { authorizedClient, tempDir, text, wizardAnswers } from '../../helpers/app.ts'

const fixture = fileURLToPath(new URL('../../fixtures/host-step/', import.meta.url))

async function hostApp (t: TestContext, env: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir(t)
  const own = referenceDefinition()
  const definition = {
    ...own,
    // The one line a host writes:
    steps: [...defaultSteps, siteStep],
    views: [path.join(fixture, 'views'), ...own.views],
    locales: [path.join(fixture, 'locales'), ...own.locales]
  }
  const app = await buildApp({ env: { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), LOG_LEVEL: 'silent', ...env }, cwd: dir, logger: false, definition })
  t.after(() => app.close())
  return { app, dir }
}

test('a host step: in the stepper, validated per field, in the summary, its stage run by the install', { timeout: 120_000 }, async t => {
  const { app, dir } = await hostApp(t)
  const client = await authorizedClient(app, { 'accept-language': 'fr' })
  for (const [step, form] of wizardAnswers(dir, { lang: 'fr' })) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, step)
  }
  // After the admin step comes the host's, before the summary.
  const page = await client.get('/setup/site')
  assert.equal(page.statusCode, 200)
  assert.match(text(page), /Étape 7 sur 8/)
  assert.match(text(page), /<span class="step-name">Site<\/span>/)
  assert.match(text(page), /<label for="f-siteName">Nom du site<\/label>/, 'its own view, with its own texts')

  // Validated: by its schema (a name over 40 characters) and by its submit (a time zone), each by its field.
  const long = await client.post('/setup/site', { siteName: 'x'.repeat(41), timeZone: 'UTC', _action: 'next' })
  assert.equal(long.statusCode, 422)
  assert.match(text(long), /id="f-siteName-error">40 caractères au plus\./)
  const zone = await client.post('/setup/site', { siteName: 'Mon site', timeZone: 'Mars/Olympus', _action: 'next' })
  assert.equal(zone.statusCode, 422)
  assert.match(text(zone), /id="f-timeZone-error">Ce n’est pas un nom de fuseau horaire\./)
  const ok = await client.post('/setup/site', { siteName: 'Mon site', timeZone: 'Europe/Paris', _action: 'next' })
  assert.equal(ok.statusCode, 303)
  assert.equal(ok.headers.location, '/setup/finalize')

  const summary = await client.get('/setup/finalize')
  assert.match(text(summary), /<dt>Site<\/dt><dd>Mon site \(Europe\/Paris\)<\/dd>/)
  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(install.body, /data-stage="site" data-status="done"><span class="stage-name">Réglages du site/)
  assert.match(text(install), /Site «\u00a0Mon site\u00a0» enregistré\./)
  // Its stage ran between the administrator and the lock.
  const order = [...install.body.matchAll(/data-stage="([^"]+)" data-status="done"/g)].map(m => m[1])
  assert.deepEqual(order, ['env', 'migrate', 'restore', 'admin', 'site', 'lock', 'switch'])
  assert.equal(app.amorce.mode, 'normal')
  const db = createClient({ url: `file:${path.join(dir, 'data', 'app.db')}` })
  t.after(() => db.close())
  const row = (await db.execute({ sql: 'SELECT value FROM Setting WHERE key = ?', args: [SITE_SETTING] })).rows[0]
  assert.deepEqual(JSON.parse(String(row.value)), { name: 'Mon site', timeZone: 'Europe/Paris' })
})

test('a host step preset by its environment key is shown read-only and accepted', async t => {
  const { app, dir } = await hostApp(t, { SITE_NAME: 'From env', SITE_TIME_ZONE: 'Asia/Tokyo' })
  const client = await authorizedClient(app)
  for (const [step, form] of wizardAnswers(dir)) await client.post(`/setup/${step}`, { ...form, _action: 'next' })
  const page = await client.get('/setup/site')
  assert.equal(page.statusCode, 200)
  assert.match(text(page), /<fieldset class="locked" disabled>/)
  assert.match(text(page), /value="From env"/)
  // What the form sends is ignored: the environment answers.
  const next = await client.post('/setup/site', { siteName: 'typed', _action: 'next' })
  assert.equal(next.headers.location, '/setup/finalize')
  assert.match(text(await client.get('/setup/finalize')), /From env \(Asia\/Tokyo\)/)
})

test('the answers schema has the host step\'s section, derived from its fields', () => {
  const registry = createRegistry([...defaultSteps, siteStep])
  const base = { version: 1, language: 'en', database: { provider: 'sqlite', file: 'app.db' }, cache: { backend: 'memory' }, admin: { username: 'admin', email: 'a@example.com', password: 'p' } }
  const answers = parseAnswers(JSON.stringify({ ...base, site: { siteName: 'Notes', timeZone: 'UTC' } }), {}, registry)
  assert.deepEqual(answers.site, { siteName: 'Notes', timeZone: 'UTC' })
  assert.throws(() => parseAnswers(JSON.stringify({ ...base, site: { siteName: 'x'.repeat(41), other: 1 } }), {}, registry), (err: unknown) =>
    err instanceof AnswersError && err.problems.some(p => p.path === '$.site.siteName') && err.problems.some(p => p.path === '$.site.other' && p.message === 'unknown property'))
  // Without the host step, its section is unknown.
  assert.throws(() => parseAnswers(JSON.stringify({ ...base, site: {} }), {}), (err: unknown) => err instanceof AnswersError && err.problems.some(p => p.path === '$.site'))
})
