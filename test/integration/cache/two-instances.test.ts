// Two app processes on different ports sharing one PostgreSQL database and one Redis, as behind a
// load balancer: a session opened on one is valid on the other, and the login limit counts the
// attempts made on both.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { createDatabase, requireServer, urlOf } from '../../helpers/databases.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../../helpers/redis.ts'
import { startServer } from '../../helpers/server.ts'
import { tempDir } from '../../helpers/tmp.ts'

import { hashPassword } from '../../../server/auth/password.ts'
import { LOGIN_MAX_FAILURES } from '../../../server/app/routes.ts'
import { ADMIN, installedEnv, writeEnv } from './installed.ts'
import { createPrismaClient } from '../../../server/reference.ts'

/** A browser's cookie jar over fetch, good for one site (both instances are the same site). */
class Browser {
  cookie = ''
  csrf = ''
  async get (url: string): Promise<Response> {
    const res = await fetch(url, { headers: { cookie: this.cookie, 'accept-language': 'en' }, redirect: 'manual' })
    this.keep(res)
    const html = await res.clone().text()
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1]
    if (token) this.csrf = token
    return res
  }

  async post (url: string, form: Record<string, string>): Promise<Response> {
    const res = await fetch(url, {
      method: 'POST',
      body: new URLSearchParams({ ...form, _csrf: this.csrf }),
      headers: { cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'en' },
      redirect: 'manual'
    })
    this.keep(res)
    return res
  }

  private keep (res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const name = pair.split('=')[0]
      const rest = this.cookie.split('; ').filter(p => p && !p.startsWith(`${name}=`))
      this.cookie = [...rest, pair].join('; ')
    }
  }
}

test('two instances share sessions and login limits through PostgreSQL and Redis', { timeout: 120_000 }, async t => {
  if (!await requireServer(t, 'postgresql')) return
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t)
  const database = await createDatabase(t, 'postgresql')
  const dir = await tempDir(t)
  await mkdir(path.join(dir, 'data'), { recursive: true })
  const envFile = path.join(dir, '.env')
  const dbUrl = urlOf(database)
  await writeEnv(envFile, installedEnv(dir, { backend: 'redis', redisUrl: `${redis.url}/0` }, { provider: 'postgresql', url: dbUrl }))

  // Each instance has its own data directory, as on two hosts; the .env is the same.
  const env = (name: string) => ({ ENV_FILE: envFile, DATA_DIR: path.join(dir, name) })
  const a = await startServer(t, env('a'), dir)
  assert.match(a.output(), /running at .* \(installed\)/, a.output())
  const db = await createPrismaClient('postgresql', dbUrl)
  try {
    await db.adminUser.create({ data: { username: ADMIN.username, email: ADMIN.email, passwordHash: await hashPassword(ADMIN.password) } })
  } finally {
    await db.$disconnect()
  }
  const b = await startServer(t, env('b'), dir)
  assert.notEqual(a.url, b.url)
  for (const s of [a, b]) assert.deepEqual(await (await fetch(`${s.url}/health`)).json(), { status: 'ok', db: 'ok', cache: 'ok' })

  // Signed in on A, recognized on B (and the other way round after signing out on B).
  const admin = new Browser()
  await admin.get(`${a.url}/login`)
  const login = await admin.post(`${a.url}/login`, { login: ADMIN.username, password: ADMIN.password })
  assert.equal(login.status, 303)
  assert.equal(login.headers.get('location'), '/dashboard')
  const onB = await admin.get(`${b.url}/dashboard`)
  assert.equal(onB.status, 200)
  assert.match(await onB.text(), /Signed in as admin\./)
  assert.equal((await admin.post(`${b.url}/logout`, {})).status, 303)
  assert.equal((await admin.get(`${a.url}/dashboard`)).status, 303, 'signed out on B is signed out on A')

  // Failed attempts on A and on B add up: the limit trips whichever instance answers.
  const guesser = new Browser()
  await guesser.get(`${a.url}/login`)
  const statuses: number[] = []
  for (let i = 0; i < LOGIN_MAX_FAILURES; i++) {
    const target = i % 2 === 0 ? a : b
    statuses.push((await guesser.post(`${target.url}/login`, { login: ADMIN.username, password: `guess-${i}` })).status)
  }
  assert.deepEqual(statuses, Array(LOGIN_MAX_FAILURES).fill(401))
  for (const s of [a, b]) {
    const blocked = await guesser.post(`${s.url}/login`, { login: ADMIN.username, password: ADMIN.password })
    assert.equal(blocked.status, 429, `blocked on ${s.url}`)
    assert.match(await blocked.text(), /Too many failed sign-in attempts/)
  }
})
