// `amorce doctor`: every check reported, exit 0 on a healthy install, exit 1 naming the part that is wrong,
// with the wizard's own causes, and never a password, a session secret or the setup token in its output.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { createClient } from '@libsql/client'
import { ensureSetupToken } from '../../../server/setup/token.ts'
import { createRole, createDatabase, requireServer, urlOf } from '../../helpers/databases.ts'
import { requireRedis, SHARED_REDIS_URL } from '../../helpers/redis.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { installedApp, installedEnv, writeEnv } from '../cache/installed.ts'
import { runCli } from './run.ts'

function envOf (dir: string): NodeJS.ProcessEnv {
  return { ENV_FILE: path.join(dir, '.env'), DATA_DIR: path.join(dir, 'data') }
}

test('a new directory: prerequisites pass, nothing configured yet, the token reported without its value; exit 0', async t => {
  const dir = await tempDir(t)
  const { token } = await ensureSetupToken(path.join(dir, 'data'), 24)
  const r = await runCli(['doctor'], envOf(dir), dir)
  assert.equal(r.code, 0, r.all)
  assert.match(r.out, /^Prerequisites\n {2}\[ ok \] Node\.js /m)
  assert.match(r.out, /Database\n {2}\[info\] Not configured yet/)
  assert.match(r.out, /Setup token\n {2}\[ ok \] .*setup-token holds a token valid until/)
  assert.ok(!r.all.includes(token), 'the token itself is never printed')
  assert.match(r.out, /Everything is in order\.$/m)
})

test('an installed SQLite app: database, migrations, cache and lock in order; a changed migration is a failure', async t => {
  const dir = await tempDir(t)
  const fixture = await installedApp(t, dir, { backend: 'filesystem' })
  await fixture.app.close()
  const env = envOf(dir)
  const ok = await runCli(['doctor'], env, dir)
  assert.equal(ok.code, 0, ok.all)
  assert.match(ok.out, /Database\n {2}\[ ok \] SQLite file .*app\.db \(ours\)/)
  assert.match(ok.out, /Migrations\n {2}\[ ok \] 1 applied\./)
  assert.match(ok.out, /Cache\n {2}\[ ok \] Directory .*cache is writable\./)
  assert.match(ok.out, /Install lock\n {2}\[ ok \] Installed at /)
  const secret = /SESSION_SECRET=(\S+)/.exec(await readFile(path.join(dir, '.env'), 'utf8'))![1]
  assert.ok(!ok.all.includes(secret))

  // An applied migration edited afterwards, as `prisma migrate status` would flag it.
  const db = createClient({ url: `file:${path.join(dir, 'data', 'app.db')}` })
  await db.execute("UPDATE _prisma_migrations SET checksum = 'edited'")
  db.close()
  const bad = await runCli(['doctor'], env, dir)
  assert.equal(bad.code, 1)
  assert.match(bad.out, /\[FAIL\] Changed since they were applied \(checksum differs\): 20261121233927_init\./)
  assert.match(bad.out, /Problems found in: Migrations\.$/m)
})

test('an installed app whose SQLite file is gone, whose Redis refuses: both named, exit 1', async t => {
  const dir = await tempDir(t)
  const env = installedEnv(dir, { backend: 'redis', redisUrl: 'redis://:s3cret-Redis-pw@127.0.0.1:1/0' })
  await writeEnv(path.join(dir, '.env'), env)
  const r = await runCli(['doctor'], envOf(dir), dir)
  assert.equal(r.code, 1)
  assert.match(r.out, /\[FAIL\] The SQLite file .*app\.db does not exist: the app is installed/)
  assert.match(r.out, /\[FAIL\] Connection refused at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/)
  assert.match(r.out, /Problems found in: Database, Cache\.$/m)
  assert.ok(!r.all.includes('s3cret-Redis-pw'))
})

test('PostgreSQL without its database: the wizard\'s cause and hint, the password never shown', async t => {
  if (!await requireServer(t, 'postgresql')) return
  const c = await createDatabase(t, 'postgresql')
  const role = await createRole(t, 'postgresql', { allOn: [c.database] })
  const dir = await tempDir(t)
  const missing = `${c.database}_gone`
  await writeFile(path.join(dir, '.env'), `DATABASE_PROVIDER=postgresql\nDATABASE_URL=${urlOf({ ...c, user: role.user, password: role.password, database: missing })}\n`)
  const r = await runCli(['doctor'], envOf(dir), dir)
  assert.equal(r.code, 1, r.all)
  assert.match(r.out, new RegExp(`\\[FAIL\\] The database “${missing}” does not exist\\.\\n +Create it on the server`))
  assert.ok(!r.all.includes(role.password) && !r.all.includes(encodeURIComponent(role.password)))
  assert.match(r.out, /Problems found in: Database\.$/m)
})

test('MariaDB reachable, migrations pending before install, Redis reachable: exit 0 with the facts', async t => {
  if (!await requireServer(t, 'mysql') || !await requireRedis(t)) return
  const c = await createDatabase(t, 'mysql')
  const dir = await tempDir(t)
  await writeFile(path.join(dir, '.env'), `DATABASE_PROVIDER=mysql\nDATABASE_URL=${urlOf(c)}\nCACHE_BACKEND=redis\nREDIS_URL=${SHARED_REDIS_URL}/0\n`)
  const r = await runCli(['doctor'], envOf(dir), dir)
  assert.equal(r.code, 0, r.all)
  assert.match(r.out, /\[ ok \] (MariaDB|MySQL) [\d.]+ at mysql:\/\//)
  assert.match(r.out, /\[info\] 1 to apply at install: 20261121233927_init\./)
  assert.match(r.out, /\[ ok \] Connected to Redis [\d.]+ at redis:\/\/127\.0\.0\.1:6379\/0; round trip/)
})
