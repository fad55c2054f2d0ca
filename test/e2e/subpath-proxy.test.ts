// Behind a real nginx under a sub-path (cPanel and VPS setups): a full replay through the proxy
// reaches normal mode; links, redirects, cookies and assets all follow BASE_PATH.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { tempDir } from '../helpers/tmp.ts'
import { chromiumPath } from '../helpers/services.ts'
import { nginxAvailable, startNginx } from '../helpers/nginx.ts'
import { runReplay, startServer } from '../helpers/server.ts'

const PASSWORD = 'Ardoise-Lanterne-Sous-Chemin-9'

test('replay through nginx under /filamenta reaches normal mode; redirects, cookies and assets keep the sub-path', { timeout: 600_000 }, async t => {
  const browser = chromiumPath(t)
  if (!browser || !nginxAvailable(t)) return
  const dir = await tempDir(t)
  const env = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), BASE_PATH: '/filamenta', TRUST_PROXY: 'true', CHROMIUM_PATH: browser }
  const app = await startServer(t, env, dir)
  assert.match(app.url, /\/filamenta$/)
  const upstreamPort = Number(new URL(app.url).port)
  const proxy = await startNginx(t, dir, { location: '/filamenta', upstreamPort, extra: 'proxy_buffering off;' })

  // Before install: the wizard, under the sub-path.
  const root = await fetch(`${proxy.url}/`, { redirect: 'manual' })
  assert.equal(root.status, 303)
  assert.equal(root.headers.get('location'), '/filamenta/setup')
  const token = await fetch(`${proxy.url}/setup/token`)
  const html = await token.text()
  assert.match(html, /href="\/filamenta\/public\/app\.css"/)
  assert.match(html, /action="\/filamenta\/setup\/token"/)
  const css = await fetch(`${proxy.url}/public/app.css`)
  assert.equal(css.status, 200)
  assert.match(css.headers.get('content-type') ?? '', /text\/css/)

  const answers = path.join(dir, 'answers.json')
  await writeFile(answers, JSON.stringify({
    version: 1, language: 'en',
    database: { provider: 'sqlite', file: path.join(dir, 'data', 'app.db') },
    cache: { backend: 'filesystem', dir: path.join(dir, 'data', 'cache') },
    restore: null,
    admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
  }))
  const run = await runReplay([answers, '--url', proxy.url], { ...env, ADMIN_PASSWORD: PASSWORD }, dir)
  assert.equal(run.code, 0, run.out)

  // After install: normal mode under the sub-path, through the proxy.
  assert.deepEqual(await (await fetch(`${proxy.url}/health`)).json(), { status: 'ok', db: 'ok', cache: 'ok' })
  assert.equal((await fetch(`${proxy.url}/setup`, { redirect: 'manual' })).status, 404)
  assert.equal((await fetch(`${proxy.url}/`, { redirect: 'manual' })).headers.get('location'), '/filamenta/login')
  const loginPage = await fetch(`${proxy.url}/login`)
  const form = new URLSearchParams({ login: 'admin', password: PASSWORD })
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await loginPage.text())?.[1]
  if (csrf) form.set('_csrf', csrf)
  const cookies = loginPage.headers.getSetCookie().map(c => c.split(';')[0]).join('; ')
  const login = await fetch(`${proxy.url}/login`, { method: 'POST', redirect: 'manual', body: form, headers: { cookie: cookies } })
  assert.equal(login.status, 303, await login.text())
  assert.equal(login.headers.get('location'), '/filamenta/dashboard')
  const session = login.headers.getSetCookie().find(c => c.startsWith('amorce.sid='))
  assert.ok(session, 'a session cookie')
  assert.match(session, /Path=\/filamenta/)
  assert.match(session, /HttpOnly/)
  assert.doesNotMatch(session, /Secure/, 'plain http: no Secure flag')
  const dash = await fetch(`${proxy.url}/dashboard`, { headers: { cookie: session.split(';')[0] } })
  assert.equal(dash.status, 200)
  assert.match(await dash.text(), /Signed in as admin/)

  // The login rate limit keys on the address nginx saw, not on an X-Forwarded-For the client sent:
  // six failures, each claiming another address, still count as one client's.
  const statuses: number[] = []
  for (let i = 1; i <= 6; i++) {
    const page = await fetch(`${proxy.url}/login`)
    const body = new URLSearchParams({ login: 'admin', password: 'wrong password', _csrf: /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '' })
    const jar = page.headers.getSetCookie().map(c => c.split(';')[0]).join('; ')
    const res = await fetch(`${proxy.url}/login`, { method: 'POST', redirect: 'manual', body, headers: { cookie: jar, 'x-forwarded-for': `198.51.100.${i}` } })
    statuses.push(res.status)
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429])
})
