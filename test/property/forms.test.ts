// Property-based (fast-check) bad input on every form and endpoint: random, oversized, missing,
// duplicated, unicode and control-character fields, with or without a valid CSRF token, random
// languages and cookies, never give a 5xx or stop the app; refusals are 4xx, and a refused step
// says which field is wrong. (The .env writer's exact round-trip through dotenv is the property
// test in test/unit/config/envfile.test.ts.)
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { fc, runs } from '../helpers/fuzz.ts'
import type { FastifyInstance } from 'fastify'
import { authorizedClient, build, Client, STRONG_PASSWORD, walkToFinalize } from '../helpers/app.ts'
import { hashPassword } from '../../server/auth/password.ts'

/**
 * `npm test` runs one fixed seed with moderate runs; `npm run test:stress` (AMORCE_STRESS=1) ten times as
 * many on a new seed (test/helpers/fuzz.ts); FUZZ_RUNS and FUZZ_SEED override both. 30 cases per endpoint
 * (720 in all) draw each of the 4 CSRF modes about 5 to 15 times there; a step's case costs 100-200 ms of CPU (an
 * accepted one walks the wizard again): 60 made this file the suite's third costliest (55 CPU-s).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? runs(30))
const options = (numRuns: number) => ({ numRuns })
/** Cases run, by endpoint: printed at the end so the count can be reported. */
const counts: Record<string, number> = {}
process.on('exit', () => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  if (total > 0) console.log(`# fuzz cases: ${total} (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')})`)
})

const text = (max: number) => fc.oneof(
  fc.string({ unit: 'binary', maxLength: max }),
  fc.string({ unit: 'grapheme', maxLength: max }),
  fc.constantFrom('', ' ', '\0', '\u202e', '\r\n', '%', '${SECRET}', '<script>x</script>', '"><img>', '../../etc/passwd', 'a'.repeat(5000), '\ud800')
)
const oversized = fc.nat({ max: 3 }).map(n => 'x'.repeat([5_000, 70_000, 300_000, 100][n]))

/** Names that are Object.prototype members (or pollute it when used as keys): fields, actions, steps. */
const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf',
  'propertyIsEnumerable', '__defineGetter__', '__defineSetter__', '__lookupGetter__', 'toLocaleString']
const protoName = fc.constantFrom(...PROTO_NAMES, '__proto__[polluted]', 'constructor[prototype][polluted]')

/** A form: the endpoint's own fields (each maybe missing, duplicated, oversized), random extra fields. */
function form (fields: Record<string, fc.Arbitrary<string>>) {
  const own = Object.entries(fields).map(([name, value]) =>
    fc.option(fc.tuple(fc.constant(name), fc.array(fc.oneof({ weight: 6, arbitrary: value }, { weight: 3, arbitrary: text(80) }, { weight: 1, arbitrary: oversized }), { minLength: 1, maxLength: 3 })), { freq: 4 }))
  const extra = fc.array(fc.tuple(fc.oneof(text(40), protoName), fc.array(fc.oneof(text(40), protoName), { minLength: 1, maxLength: 2 })), { maxLength: 4 })
  return fc.tuple(fc.tuple(...own), extra).map(([o, e]) => [...o.filter(x => x !== null), ...e] as Array<[string, string[]]>)
}

/** How the CSRF token is sent: as it should be, missing, forged, or duplicated. */
const csrfMode = fc.constantFrom('valid', 'valid', 'valid', 'missing', 'forged', 'duplicated')
const headers = fc.record({
  'accept-language': fc.option(fc.oneof(fc.constantFrom('fr', 'en-US,en;q=0.5', '*', 'xx', 'fr;q=abc'), fc.string({ unit: 'grapheme-ascii', maxLength: 60 })), { nil: undefined }),
  cookie: fc.option(fc.oneof(fc.constantFrom('amorce.lang=fr', 'amorce.lang=zz', 'amorce.sid=forged.sig', 'a=b; amorce.lang='), fc.string({ unit: 'grapheme-ascii', maxLength: 60 })), { nil: undefined })
}, { requiredKeys: [] })

function encode (pairs: Array<[string, string[]]>, csrf: string | undefined, mode: string): string {
  const params = new URLSearchParams()
  for (const [k, vs] of pairs) for (const v of vs) params.append(k, v)
  if (mode === 'valid' && csrf) params.set('_csrf', csrf)
  if (mode === 'forged') params.set('_csrf', 'forged')
  if (mode === 'duplicated' && csrf) { params.append('_csrf', 'forged'); params.append('_csrf', csrf) }
  return params.toString()
}

async function assertHandled (app: FastifyInstance, res: { statusCode: number, body: string }, what: string) {
  assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`)
  assert.equal((await app.inject('/health')).statusCode < 500 || app.amorce.mode === 'unavailable', true, `${what}: the app still answers`)
}

/** Fuzzes POST `url` with `fields`; a 422 must name at least one field or the form. */
async function fuzzPost (t: TestContext, app: FastifyInstance, client: Client, name: string, url: string, fields: Record<string, fc.Arbitrary<string>>, before?: () => Promise<void>) {
  await fc.assert(fc.asyncProperty(form(fields), csrfMode, headers, async (pairs, mode, extraHeaders) => {
    counts[name] = (counts[name] ?? 0) + 1
    await before?.()
    // This session's token (a case may have replaced the session).
    const csrf = client.csrfToken() ?? await client.fetchCsrf(url)
    const hdrs = Object.fromEntries(Object.entries(extraHeaders).filter(([, v]) => v !== undefined)) as Record<string, string>
    // The client's own session cookie is kept, whatever cookie the case adds.
    if (hdrs.cookie) hdrs.cookie = `${hdrs.cookie}; ${client.cookieHeader()}`
    const res = await client.postRaw(url, encode(pairs, csrf, mode), hdrs)
    await assertHandled(app, res, `POST ${url}`)
    if (res.statusCode === 422 && url.startsWith('/setup/') && url !== '/setup/token') {
      assert.match(res.body, /class="error"|role="alert"/, `POST ${url}: a 422 says what is wrong`)
    }
    if (mode !== 'valid' && res.statusCode !== 404 && res.statusCode !== 413 && res.statusCode !== 415) {
      assert.equal(res.statusCode, 403, `POST ${url} without a valid CSRF token is refused`)
    }
  }), options(RUNS))
}

const local = (dir: string) => fc.string({ unit: 'grapheme', maxLength: 30 }).map(s => path.join(dir, 'fuzz', s.replace(/[/\\\0]/g, '_') || 'x'))
const actions = (names: string[]) => fc.oneof(fc.constantFrom('next', 'back', 'nope', '', ...names), protoName)
const lang = fc.constantFrom('en', 'fr', 'de', '', 'EN')
// Network fields stay on this machine: the property is about input handling, not about the network.
const hosts = fc.constantFrom('', '127.0.0.1', '::1', 'bad host', 'a'.repeat(300), '-x-', '127.0.0.1:5432')
const ports = fc.oneof(fc.constantFrom('', '1', '0', '65536', '-5', '5432', '1e3', '٣'), fc.string({ maxLength: 6 }))

test('setup steps, token, resume and env endpoints: bad input never gives a 5xx', { timeout: 600_000 }, async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await walkToFinalize(client, dir)

  const steps: Array<[string, Record<string, fc.Arbitrary<string>>]> = [
    ['language', { _action: actions([]), language: lang, _lang: lang }],
    ['prerequisites', { _action: actions([]), _lang: lang }],
    ['database', {
      _action: actions(['test', 'create']), provider: fc.constantFrom('sqlite', 'postgresql', 'mysql', 'oracle', ''), file: local(dir),
      instances: fc.constantFrom('single', 'multiple', 'x'), host: hosts, port: ports, user: text(20), password: text(20), database: text(20),
      tls: fc.constantFrom('off', 'require', 'verify', 'x'), caFile: local(dir), url: fc.constantFrom('', 'postgresql://u:p@127.0.0.1:1/db', 'mysql://127.0.0.1:1/x', 'not a url', 'postgresql://'),
      confirmOtherTables: fc.constantFrom('yes', 'no')
    }],
    ['cache', {
      _action: actions(['test']), backend: fc.constantFrom('memory', 'filesystem', 'redis', 'x', ''), dir: local(dir),
      redisInput: fc.constantFrom('url', 'fields', 'x'), redisUrl: fc.constantFrom('', 'redis://127.0.0.1:1', 'redis://', 'http://x', 'rediss://:p@127.0.0.1:1/99'),
      redisHost: hosts, redisPort: ports, redisDb: fc.oneof(fc.constantFrom('0', '15', '16', '-1'), text(4)), redisTls: fc.constantFrom('on', '', 'x'), redisUsername: text(20), redisPassword: text(20)
    }],
    ['restore', { _action: actions([]), mode: fc.constantFrom('fresh', 'backup', 'x', '') }],
    ['admin', { _action: actions([]), username: text(40), email: text(60), password: text(80), confirm: text(80) }],
    // 'install' is left out here: it would end setup mode (covered by its own tests).
    ['finalize', { _action: actions(['x']) }]
  ]
  // An accepted answer that changed (another language…) makes the later steps to be accepted again: each
  // case starts with every step reachable, so it reaches the step's own code, not a redirect.
  // A case sending a forged session cookie gets a new, untrusted session: the token is entered again.
  const walked = async () => {
    let res = await client.get('/setup/finalize')
    if (res.headers.location === '/setup/token') {
      await client.post('/setup/token', { token: app.amorce.setup!.token })
      res = await client.get('/setup/finalize')
    }
    if (res.statusCode !== 200) await walkToFinalize(client, dir)
  }
  for (const [step, fields] of steps) await fuzzPost(t, app, client, `setup/${step}`, `/setup/${step}`, fields, walked)
  await fuzzPost(t, app, client, 'setup/resume', '/setup/resume', { _action: fc.constantFrom('resume', 'summary', 'x') })
  await fuzzPost(t, app, client, 'setup/install/env', '/setup/install/env', {})
  await fuzzPost(t, app, client, 'setup/unknown', '/setup/nowhere', { _action: actions([]) })
  await fuzzRoutes(app, 'setup: any route, any body', [client, new Client(app)], walked)
  assert.equal(app.amorce.mode, 'setup')

  // The token form, from a client without the token (each case from its own address, past the rate limit too).
  const stranger = new Client(app)
  await fuzzPost(t, app, stranger, 'setup/token', '/setup/token', { token: fc.oneof(text(300), fc.constant(app.amorce.setup!.token + 'x')) })

  // Query strings on pages: ?token=, ?lang=, anything.
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.oneof(fc.constantFrom('token', 'lang', 'step'), text(10)), text(100)), { maxLength: 4 }), fc.constantFrom('/setup', '/setup/token', '/setup/database', '/setup/resume', '/setup/install', '/setup/install/env', '/', '/health', '/login'), async (query, page) => {
    counts['GET pages'] = (counts['GET pages'] ?? 0) + 1
    const qs = new URLSearchParams(query).toString()
    await assertHandled(app, await new Client(app).get(`${page}?${qs}`), `GET ${page}?${qs}`)
    await assertHandled(app, await client.get(`${page}?${qs.replace(/(^|&)token=[^&]*/g, '')}`), `GET ${page} (authorized)`)
  }), options(RUNS * 2))
  assert.equal(app.amorce.mode, 'setup')
})

test('login, logout and health in normal mode: bad input never gives a 5xx', { timeout: 600_000 }, async t => {
  const { app, dir } = await build(t)
  const setup = await authorizedClient(app)
  await walkToFinalize(setup, dir)
  await setup.post('/setup/finalize', { _action: 'install' })
  assert.equal(app.amorce.mode, 'normal')

  const client = new Client(app)
  await fuzzPost(t, app, client, 'login', '/login', { login: fc.oneof(text(300), fc.constantFrom('admin', 'admin@example.com')), password: fc.oneof(text(300), oversized) })
  await fuzzPost(t, app, client, 'logout', '/logout', {})
  // A signed-in administrator too (signed in again whenever a case signed it out), and an anonymous visitor.
  // Its own account: the login fuzz above has used up the sign-in attempts of "admin" from this address.
  await app.amorce.runtime!.db.adminUser.create({ data: { username: 'fuzz-admin', email: 'fuzz@example.com', passwordHash: await hashPassword(STRONG_PASSWORD) } })
  const admin = new Client(app)
  const signIn = async () => {
    await admin.get('/login')
    assert.equal((await admin.post('/login', { login: 'fuzz-admin', password: STRONG_PASSWORD })).statusCode, 303)
    await admin.get('/dashboard')
  }
  await signIn()
  await fuzzRoutes(app, 'normal: any route, any body', [admin, new Client(app)], async () => {
    if ((await admin.get('/dashboard')).statusCode !== 200) await signIn()
  })
  // Any bytes in the query, and broken percent-escapes.
  const query = fc.oneof(text(200).map(q => Buffer.from(q).toString('hex').replace(/(..)/g, '%$1')), fc.constantFrom('%', '%zz', '%E0%A4%A', 'a=%C0%AF', '&&==&', 'lang=fr&lang=en'))
  await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE'), query, async (method, q) => {
    counts.health = (counts.health ?? 0) + 1
    const res = await app.inject({ method: method as 'GET', url: `/health?${q}` })
    assert.ok(res.statusCode < 500, `${method} /health: ${res.statusCode}`)
  }), options(RUNS))
  assert.equal((await app.inject('/health')).statusCode, 200)
})

// ---------------------------------------------------------------------------------------------
// Any route, any body: every registered route with random content types, sizes and bodies (forms and
// JSON with prototype-named keys, raw bytes), from a trusted or an anonymous client.

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=iso-8859-1', 'application/json',
  'application/json; charset=utf-16', 'text/plain', 'text/html', 'multipart/form-data; boundary=zz', 'application/octet-stream',
  'application/gzip', 'application/xml', '', 'x/y; ;=', 'application/x-www-form-urlencoded, application/json', 'application/JSON'
]
const SIZES = [0, 1, 100, 4096, 65 * 1024, 300 * 1024, 1024 * 1024 + 1]
/** Routes whose answers are not pages: a JSON API for the upload script, a download, the platform check. */
const NOT_PAGES = ['/health', '/setup/restore/upload', '/setup/install/env', '/backup']

const pairs = fc.array(fc.tuple(fc.oneof({ weight: 3, arbitrary: protoName }, { weight: 2, arbitrary: text(20) }, { weight: 1, arbitrary: fc.constantFrom('_action', '_lang', '_csrf', 'step') }),
  fc.oneof(protoName, text(30), fc.constantFrom('next', 'back', 'test', 'fr', '1'))), { maxLength: 6 })
const jsonValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), protoName, fc.constant({ polluted: 1 }))
const bodyKind = fc.constantFrom('form', 'json', 'bytes', 'none')

/** A body of about `size` bytes; `csrf` is included when given (so the route's own checks are reached). */
function makeBody (kind: string, fields: Array<[string, string]>, json: Array<[string, unknown]>, bytes: Uint8Array, size: number, csrf?: string): Buffer | undefined {
  if (kind === 'none') return undefined
  if (kind === 'bytes') return Buffer.concat([Buffer.from(bytes), Buffer.alloc(Math.max(0, size - bytes.length), 0x41)])
  if (kind === 'json') {
    const members = [...json, ...(csrf ? [['_csrf', csrf] as [string, unknown]] : [])].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`)
    const text = `{${members.join(',')}}`
    return Buffer.from(text.length >= size ? text : `${text.slice(0, -1)}${members.length ? ',' : ''}"pad":"${'x'.repeat(size - text.length)}"}`)
  }
  const params = new URLSearchParams(fields)
  if (csrf) params.set('_csrf', csrf)
  // Raw bracket keys too: a parser that built nested objects from them would pollute prototypes.
  const text = `${params.toString()}&__proto__[polluted]=1&constructor[prototype][polluted]=1`
  return Buffer.from(text.length >= size ? text : `${text}&pad=${'x'.repeat(size - text.length)}`)
}

async function fuzzRoutes (app: FastifyInstance, name: string, clients: Client[], afterCase?: (url: string) => Promise<void>) {
  const routes = app.routeTable.filter(r => r.method !== 'OPTIONS')
  const stepNames = fc.oneof(fc.constantFrom('language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize', 'nowhere'), protoName)
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(...routes), stepNames, text(20), fc.constantFrom(...CONTENT_TYPES), fc.constantFrom(...SIZES), bodyKind,
    pairs, fc.array(fc.tuple(fc.oneof(protoName, text(10)), jsonValue), { maxLength: 5 }), fc.uint8Array({ maxLength: 300 }),
    fc.nat({ max: clients.length - 1 }), fc.boolean(), fc.constantFrom('en', 'fr'),
    async (route, step, rest, type, size, kind, fields, json, bytes, who, withCsrf, lang) => {
      counts[name] = (counts[name] ?? 0) + 1
      const client = clients[who]
      const url = route.url.replace(':step', encodeURIComponent(step)).replace('*', encodeURIComponent(rest.replace(/\p{Cs}/gu, '\ufffd')))
      const csrf = withCsrf ? client.csrfToken() : undefined
      const payload = route.method === 'GET' || route.method === 'HEAD' ? undefined : makeBody(kind, fields, json, bytes, size, csrf)
      const headers: Record<string, string> = { 'accept-language': lang }
      if (type !== '' && payload !== undefined) headers['content-type'] = type
      const res = await client.request({ method: route.method as 'POST', url, payload, headers })
      const what = `${route.method} ${url} (${type || 'no type'}, ${payload?.length ?? 0} bytes, ${kind})`
      assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`)
      if (res.statusCode >= 400 && !NOT_PAGES.some(p => url.split('?')[0] === p) && route.method !== 'HEAD') {
        assert.match(String(res.headers['content-type']), /^text\/html/, `${what}: a ${res.statusCode} on a page route is a localized page, not ${res.body.slice(0, 120)}`)
        assert.match(res.body, new RegExp(`<html lang="(en|fr)"`), what)
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined, `${what}: Object.prototype polluted`)
      await afterCase?.(url)
    }), options(RUNS * 4))
}
