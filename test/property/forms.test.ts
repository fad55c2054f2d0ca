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
import { authorizedClient, build, Client, walkToFinalize } from '../helpers/app.ts'

const RUNS = Number(process.env.FUZZ_RUNS ?? runs(60))
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

/** A form: the endpoint's own fields (each maybe missing, duplicated, oversized), random extra fields. */
function form (fields: Record<string, fc.Arbitrary<string>>) {
  const own = Object.entries(fields).map(([name, value]) =>
    fc.option(fc.tuple(fc.constant(name), fc.array(fc.oneof({ weight: 6, arbitrary: value }, { weight: 3, arbitrary: text(80) }, { weight: 1, arbitrary: oversized }), { minLength: 1, maxLength: 3 })), { freq: 4 }))
  const extra = fc.array(fc.tuple(text(40), fc.array(text(40), { minLength: 1, maxLength: 2 })), { maxLength: 4 })
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
async function fuzzPost (t: TestContext, app: FastifyInstance, client: Client, name: string, url: string, fields: Record<string, fc.Arbitrary<string>>) {
  const csrf = client.csrfToken() ?? await client.fetchCsrf(url)
  await fc.assert(fc.asyncProperty(form(fields), csrfMode, headers, async (pairs, mode, extraHeaders) => {
    counts[name] = (counts[name] ?? 0) + 1
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
  }), { numRuns: RUNS })
}

const local = (dir: string) => fc.string({ unit: 'grapheme', maxLength: 30 }).map(s => path.join(dir, 'fuzz', s.replace(/[/\\\0]/g, '_') || 'x'))
const actions = (names: string[]) => fc.constantFrom('next', 'back', 'nope', '', ...names)
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
  for (const [step, fields] of steps) await fuzzPost(t, app, client, `setup/${step}`, `/setup/${step}`, fields)
  await fuzzPost(t, app, client, 'setup/resume', '/setup/resume', { _action: fc.constantFrom('resume', 'summary', 'x') })
  await fuzzPost(t, app, client, 'setup/install/env', '/setup/install/env', {})
  await fuzzPost(t, app, client, 'setup/unknown', '/setup/nowhere', { _action: actions([]) })

  // The token form, from a client without the token (each case from its own address, past the rate limit too).
  const stranger = new Client(app)
  await fuzzPost(t, app, stranger, 'setup/token', '/setup/token', { token: fc.oneof(text(300), fc.constant(app.amorce.setup!.token + 'x')) })

  // Query strings on pages: ?token=, ?lang=, anything.
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.oneof(fc.constantFrom('token', 'lang', 'step'), text(10)), text(100)), { maxLength: 4 }), fc.constantFrom('/setup', '/setup/token', '/setup/database', '/setup/resume', '/setup/install', '/setup/install/env', '/', '/health', '/login'), async (query, page) => {
    counts['GET pages'] = (counts['GET pages'] ?? 0) + 1
    const qs = new URLSearchParams(query).toString()
    await assertHandled(app, await new Client(app).get(`${page}?${qs}`), `GET ${page}?${qs}`)
    await assertHandled(app, await client.get(`${page}?${qs.replace(/(^|&)token=[^&]*/g, '')}`), `GET ${page} (authorized)`)
  }), { numRuns: RUNS * 2 })
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
  // Any bytes in the query, and broken percent-escapes.
  const query = fc.oneof(text(200).map(q => Buffer.from(q).toString('hex').replace(/(..)/g, '%$1')), fc.constantFrom('%', '%zz', '%E0%A4%A', 'a=%C0%AF', '&&==&', 'lang=fr&lang=en'))
  await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE'), query, async (method, q) => {
    counts.health = (counts.health ?? 0) + 1
    const res = await app.inject({ method: method as 'GET', url: `/health?${q}` })
    assert.ok(res.statusCode < 500, `${method} /health: ${res.statusCode}`)
  }), { numRuns: RUNS })
  assert.equal((await app.inject('/health')).statusCode, 200)
})
