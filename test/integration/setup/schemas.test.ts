// Every setup route declares the schema of its body and query string (a step's from its fields): a value the
// schema refuses re-renders the step with a localized message by that field (422, never Fastify's JSON 400),
// unknown fields are dropped, an unknown `_action` or a refused query string is a 400 page.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Ajv } from 'ajv'
import { buildApp, referenceDefinition } from '../../../server/app.ts'
import { defaultSteps, defineStep } from '../../../server/setup/registry.ts'
import { authorizedClient, build, tempDir, text, walkToFinalize } from '../../helpers/app.ts'

test('a field over its schema: the step again, 422, the message by that field, in the reader\'s language', async t => {
  const { app, dir } = await build(t)
  for (const [lang, message] of [['en', /At most 4096 characters\./], ['fr', /4096 caractères au plus\./]] as const) {
    const client = await authorizedClient(app, { 'accept-language': lang })
    await walkToFinalize(client, dir, lang)
    const res = await client.post('/setup/admin', { username: 'x'.repeat(5000), email: 'admin@example.com', password: 'p', confirm: 'p', _action: 'next' })
    assert.equal(res.statusCode, 422)
    assert.match(String(res.headers['content-type']), /^text\/html/)
    assert.match(text(res), new RegExp(`id="f-username-error">${message.source}`), 'the message sits by the username field')
    assert.doesNotMatch(res.body, /x{5000}/, 'nothing is run or echoed at full length')
    // The accepted answer is untouched: the summary still opens.
    assert.equal((await client.get('/setup/finalize')).statusCode, 200)
  }
})

test('a field given twice is one message by it; unknown fields are dropped; a JSON body that is no form is said for the form', async t => {
  const { app } = await build(t)
  const client = await authorizedClient(app)
  const csrf = client.csrfToken() ?? await client.fetchCsrf('/setup/language')
  const twice = await client.postRaw('/setup/language', `_csrf=${csrf}&_action=next&language=en&language=fr`)
  assert.equal(twice.statusCode, 422)
  assert.match(text(twice), /id="f-language-error"|Give this field one value\./)
  assert.match(text(twice), /Give this field one value\./)
  const extra = await client.post('/setup/language', { language: 'en', unknown: 'x', constructor: 'y', _action: 'next' })
  assert.equal(extra.statusCode, 303, 'unknown fields are ignored')
  const json = await client.request({ method: 'POST', url: '/setup/prerequisites', payload: JSON.stringify(['not', 'a', 'form']), headers: { 'content-type': 'application/json', 'x-csrf-token': client.csrfToken() ?? '' } })
  assert.equal(json.statusCode, 422)
  assert.match(text(json), /The form could not be read/)
})

test('an unknown _action, a refused control field or a refused query string is a 400 page, never a 500 or JSON', async t => {
  const { app } = await build(t)
  const client = await authorizedClient(app)
  for (const [url, form] of [['/setup/language', { _action: 'nope', language: 'en' }], ['/setup/language', { _action: 'a'.repeat(100) }], ['/setup/language', { _lang: 'x'.repeat(40) }], ['/setup/resume', { _action: 'b'.repeat(100) }]] as const) {
    const res = await client.post(url, form)
    assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(form).slice(0, 60)}`)
    assert.match(String(res.headers['content-type']), /^text\/html/)
    assert.match(text(res), /Request not understood/)
  }
  const query = await client.get(`/setup/language?lang=${'x'.repeat(40)}`)
  assert.equal(query.statusCode, 400)
  assert.match(text(query), /Request not understood/)
})

test('every setup route declares a schema for its query string, and every POST one for its body', async t => {
  const { app } = await build(t)
  const setupRoutes = app.amorce.wizard!.routeSchemas
  const posts = setupRoutes.filter(r => r.method === 'POST')
  assert.ok(setupRoutes.length >= 20, `setup routes: ${setupRoutes.length}`)
  for (const r of setupRoutes) assert.ok(r.schema.querystring, `${r.method} ${r.url}: a query string schema`)
  for (const r of posts) assert.ok(r.schema.body, `${r.method} ${r.url}: a body schema`)
  // A step's body schema is its fields, with the wizard's own, and nothing else.
  const admin = posts.find(r => r.url === '/setup/admin')!.schema.body as { properties: Record<string, unknown>, additionalProperties: boolean }
  assert.deepEqual(Object.keys(admin.properties).sort(), ['_action', '_csrf', '_lang', 'accounts', 'confirm', 'email', 'password', 'username'])
  assert.equal(admin.additionalProperties, false)
})

test('every schema of Amorce\'s own setup routes is valid JSON Schema (the router does not check them at run time)', async t => {
  const { app } = await build(t)
  const ajv = new Ajv({ strict: false })
  for (const r of app.amorce.wizard!.routeSchemas) {
    for (const part of [r.schema.querystring, r.schema.body].filter(Boolean)) {
      assert.equal(ajv.validateSchema(part as object), true, `${r.method} ${r.url}: ${ajv.errorsText(ajv.errors)}`)
    }
  }
})

test('a host step\'s field schema that is no JSON Schema fails that step\'s POST (500), the other pages still answer', async t => {
  const dir = await tempDir(t)
  const broken = defineStep({ id: 'broken', fields: { name: { schema: { type: 'strng' } } }, values: () => ({ name: '' }), submit: async () => ({}) })
  const definition = { ...referenceDefinition(), steps: [...defaultSteps, broken] }
  const app = await buildApp({ env: { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), LOG_LEVEL: 'silent' }, cwd: dir, logger: false, definition })
  t.after(() => app.close())
  const client = await authorizedClient(app)
  const res = await client.post('/setup/broken', { name: 'x', _action: 'next' })
  assert.equal(res.statusCode, 500)
  assert.equal((await client.get('/setup/language')).statusCode, 200)
  assert.equal((await client.post('/setup/language', { language: 'en', _action: 'next' })).statusCode, 303)
})
