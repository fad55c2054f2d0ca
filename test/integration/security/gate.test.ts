// Who may run the wizard: the token gate on every setup route, its rate limit and expiry, the
// session bound to it, CSRF on every state-changing request, security headers and Secure cookies.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authorizedClient, build, Client, csrfOf, text } from '../../helpers/app.ts'
import { CSP_DIRECTIVES } from '../../../server/plugins/security.ts'

const sid = (c: Client) => /amorce\.sid=([^;]+)/.exec(c.cookieHeader())?.[1]

test('every setup route (pages, posts, actions, streams, downloads) asks for the token first', async t => {
  const { app } = await build(t)
  const routes = app.routeTable.filter(r => r.url.startsWith('/setup') && r.method !== 'HEAD' && !r.url.startsWith('/setup/token'))
  assert.ok(routes.length >= 8, `setup routes found: ${routes.map(r => `${r.method} ${r.url}`).join(', ')}`)
  const client = new Client(app)
  for (const { method, url } of routes) {
    const concrete = url.replace(':step', 'database')
    const res = method === 'POST' ? await client.post(concrete, { _action: 'test' }) : await client.request({ method: method as 'GET', url: concrete })
    if (method === 'GET') {
      assert.equal(res.statusCode, 303, `${method} ${concrete}`)
      assert.equal(res.headers.location, '/setup/token', `${method} ${concrete}`)
    } else {
      assert.equal(res.statusCode, 403, `${method} ${concrete}`)
      assert.match(text(res), /Enter the setup token/, `${method} ${concrete}`)
    }
  }
})

test('wrong tokens are limited to 10 a minute per client, with a localized 429 and Retry-After', async t => {
  const { app } = await build(t)
  const attacker = new Client(app, { 'accept-language': 'fr' })
  for (let i = 0; i < 10; i++) assert.equal((await attacker.post('/setup/token', { token: `wrong-${i}` })).statusCode, 422)
  const limited = await attacker.post('/setup/token', { token: 'wrong-again' })
  assert.equal(limited.statusCode, 429)
  assert.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60)
  assert.match(text(limited), /Trop de jetons erronés depuis votre adresse\. Patientez \d+ secondes/)
  // Even the right token is not checked while limited: guessing gains nothing.
  assert.equal((await attacker.post('/setup/token', { token: app.amorce.setup!.token })).statusCode, 429)
  assert.equal((await attacker.get(`/setup?token=${app.amorce.setup!.token}`)).statusCode, 429)
  // Another client is not affected.
  const other = new Client(app)
  const ok = await other.request({ method: 'GET', url: '/setup/token', remoteAddress: '10.0.0.9' })
  const res = await other.request({ method: 'POST', url: '/setup/token', remoteAddress: '10.0.0.9', payload: new URLSearchParams({ token: app.amorce.setup!.token, _csrf: csrfOf(ok.body)! }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  assert.equal(res.statusCode, 303)
})

test('an expired token is refused with a localized message; an authorized session goes on', async t => {
  const { app } = await build(t)
  const early = await authorizedClient(app)
  app.amorce.setup!.tokenExpiresAt = Date.now() - 1000
  const late = new Client(app, { 'accept-language': 'en' })
  const page = await late.get('/setup/token')
  assert.equal(page.statusCode, 403)
  assert.match(text(page), /This setup token has expired\. Restart the server/)
  const post = await late.post('/setup/token', { token: app.amorce.setup!.token })
  assert.equal(post.statusCode, 403)
  assert.match(text(post), /has expired/)
  assert.equal((await late.get(`/setup/language?token=${app.amorce.setup!.token}`)).statusCode, 403)
  assert.equal((await early.get('/setup/language')).statusCode, 200)
})

test('entering the token, by form or by ?token=, gives the session a new id', async t => {
  const { app } = await build(t)
  for (const how of ['form', 'query'] as const) {
    const client = new Client(app)
    await client.get('/setup/token') // a session exists before (the CSRF secret)
    const before = sid(client)
    assert.ok(before)
    const res = how === 'form'
      ? await client.post('/setup/token', { token: app.amorce.setup!.token })
      : await client.get(`/setup/language?token=${app.amorce.setup!.token}`)
    assert.equal(res.statusCode, 303)
    assert.ok(sid(client) && sid(client) !== before, `${how}: new session id`)
    // The planted id is worthless now.
    const planted = await app.inject({ url: '/setup/language', cookies: { 'amorce.sid': before! } })
    assert.equal(planted.statusCode, 303)
    assert.equal(planted.headers.location, '/setup/token')
  }
})

test('CSRF: every state-changing request needs the token of its own session, with a localized 403', async t => {
  const { app } = await build(t)
  const client = await authorizedClient(app, { 'accept-language': 'fr' })
  const page = await client.get('/setup/language')
  const token = csrfOf(page.body)
  assert.ok(token, 'step forms carry a _csrf field')
  // missing
  const missing = await client.postRaw('/setup/language', 'language=en&_action=next')
  assert.equal(missing.statusCode, 403)
  assert.match(text(missing), /Ce formulaire n’est plus valable/)
  // forged
  assert.equal((await client.post('/setup/language', { language: 'en', _action: 'next', _csrf: 'forged-token' })).statusCode, 403)
  // another session's token
  const other = await authorizedClient(app)
  const otherToken = csrfOf((await other.get('/setup/language')).body)!
  assert.equal((await client.post('/setup/language', { language: 'en', _action: 'next', _csrf: otherToken })).statusCode, 403)
  // the token of the session before the token was entered no longer counts
  const fresh = new Client(app)
  const before = csrfOf((await fresh.get('/setup/token')).body)!
  await fresh.post('/setup/token', { token: app.amorce.setup!.token, _csrf: before })
  assert.equal((await fresh.post('/setup/language', { language: 'en', _action: 'next', _csrf: before })).statusCode, 403)
  // the right one, as a field or as a header (scripts)
  assert.equal((await client.post('/setup/language', { language: 'en', _action: 'next', _csrf: token })).statusCode, 303)
  assert.equal((await client.postRaw('/setup/prerequisites', '_action=next', { 'x-csrf-token': token })).statusCode, 303)
  // the token form itself
  assert.equal((await new Client(app).postRaw('/setup/token', `token=${app.amorce.setup!.token}`)).statusCode, 403)
})

test('security headers: a CSP without inline script, no referrer, no framing; pages hold no inline script or style', async t => {
  const { app } = await build(t)
  const client = await authorizedClient(app)
  for (const url of ['/setup/token', '/setup/language', '/setup/prerequisites', '/nowhere']) {
    const res = await client.get(url)
    const csp = String(res.headers['content-security-policy'])
    assert.match(csp, /script-src 'self'(;|$)/, url)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url)
    for (const d of ["default-src 'self'", "style-src 'self'", "img-src 'self' data:", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]) assert.ok(csp.includes(d), `${url}: ${d}`)
    assert.equal(res.headers['referrer-policy'], 'no-referrer')
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
    assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/i, `${url}: inline script`)
    assert.doesNotMatch(res.body, /\son[a-z]+\s*=/i, `${url}: event handler attribute`)
    assert.doesNotMatch(res.body, /\sstyle\s*=/i, `${url}: style attribute`)
  }
  assert.deepEqual(CSP_DIRECTIVES.scriptSrc, ["'self'"])
})

test('cookies are Secure behind a proxy that says HTTPS (TRUST_PROXY), not over plain HTTP', async t => {
  const proxied = await build(t, { env: { TRUST_PROXY: '1' } })
  const viaHttps = await proxied.app.inject({ url: '/setup/token', headers: { 'x-forwarded-proto': 'https' } })
  const cookies = [viaHttps.headers['set-cookie']].flat().join('\n')
  assert.match(cookies, /amorce\.sid=[^\n]*; Secure/)
  assert.match(cookies, /HttpOnly/)
  assert.match(cookies, /SameSite=Lax/)
  const plain = await proxied.app.inject({ url: '/setup/token' })
  assert.doesNotMatch([plain.headers['set-cookie']].flat().join('\n'), /Secure/)
  // Without TRUST_PROXY the header is not believed.
  const direct = await build(t)
  const spoofed = await direct.app.inject({ url: '/setup/token', headers: { 'x-forwarded-proto': 'https' } })
  assert.doesNotMatch([spoofed.headers['set-cookie']].flat().join('\n'), /Secure/)
})
