// Behind a reverse proxy: X-Forwarded-For and X-Forwarded-Proto are believed only with TRUST_PROXY,
// so a client cannot dodge the login rate limit by inventing addresses, and cookies get Secure
// only when the proxy says the request came over HTTPS.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { hashPassword } from '../../../server/auth/password.ts'
import { build, Client, tempDir } from '../../helpers/app.ts'
import { ADMIN, installedEnv, writeEnv } from '../cache/installed.ts'

async function installed (t: import('node:test').TestContext, trustProxy: boolean) {
  const dir = await tempDir(t)
  await mkdir(path.join(dir, 'data'), { recursive: true })
  await writeEnv(path.join(dir, '.env'), { ...installedEnv(dir, { backend: 'memory' }), TRUST_PROXY: String(trustProxy) })
  const { app } = await build(t, { dir })
  assert.equal(app.amorce.mode, 'normal')
  await app.amorce.runtime!.db.adminUser.create({ data: { username: ADMIN.username, email: ADMIN.email, passwordHash: await hashPassword(ADMIN.password) } })
  return app
}

/** Failed logins for one account, each claiming another client address; returns the statuses. */
async function failedLogins (app: Awaited<ReturnType<typeof installed>>, count: number): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < count; i++) {
    const client = new Client(app, { 'x-forwarded-for': `203.0.113.${i + 1}` })
    statuses.push((await client.post('/login', { login: ADMIN.username, password: 'wrong password' })).statusCode)
  }
  return statuses
}

test('without TRUST_PROXY, invented X-Forwarded-For addresses share one limit: the 6th failure is refused', async t => {
  const app = await installed(t, false)
  const statuses = await failedLogins(app, 6)
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401])
  assert.equal(statuses[5], 429)
})

test('with TRUST_PROXY, the proxy\'s X-Forwarded-For is the client: six clients, six separate limits', async t => {
  const app = await installed(t, true)
  assert.deepEqual(await failedLogins(app, 6), [401, 401, 401, 401, 401, 401])
})

test('Secure cookies only when a trusted proxy says https', async t => {
  for (const trust of [false, true]) {
    const app = await installed(t, trust)
    const page = await app.inject({ url: '/login', headers: { 'x-forwarded-proto': 'https' } })
    const cookies = ([] as string[]).concat(page.headers['set-cookie'] ?? [])
    assert.ok(cookies.length > 0, 'the login page sets a cookie (session for CSRF)')
    for (const c of cookies) assert.equal(/;\s*Secure/i.test(c), trust, `${trust ? '' : 'no '}Secure: ${c.split(';')[0].split('=')[0]}`)
  }
})
