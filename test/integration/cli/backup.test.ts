// `amorce backup --out`, `amorce backup verify` and `amorce restore`: a backup of an installed SQLite app,
// verified without writing anything, then restored into the empty database of a new, configured install on
// another engine (the move between platforms), which ends installed with the restored administrator.
import assert from 'node:assert/strict'
import { readFile, stat, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { readEnvFile } from '../../../server/config/envfile.ts'
import type { Provider } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { emptyDatabase, logicalDump, seed } from '../backup/fixtures.ts'
import { installedApp } from '../cache/installed.ts'
import { runCli } from './run.ts'

function envOf (dir: string): NodeJS.ProcessEnv {
  return { ENV_FILE: path.join(dir, '.env'), DATA_DIR: path.join(dir, 'data') }
}

/** An installed SQLite app with its administrator and the fixtures' awkward rows, and a backup of it. */
async function backedUp (t: TestContext): Promise<{ dir: string, file: string, url: string }> {
  const dir = await tempDir(t)
  const fixture = await installedApp(t, dir, { backend: 'memory' })
  await fixture.app.close()
  const url = `file:${path.join(dir, 'data', 'app.db')}`
  await seed('sqlite', url, { Setting: [['cli:marker', 'café ✓ "quoted"', new Date('2026-03-04T05:06:07.089Z')]] })
  const r = await runCli(['backup', '--out', 'saved.tar.gz'], envOf(dir), dir)
  assert.equal(r.code, 0, r.all)
  const file = path.join(dir, 'saved.tar.gz')
  assert.match(r.out, new RegExp(`^Backup written to ${file.replace(/[.]/g, '\\.')}: 3 tables, \\d+ rows, migration 20261121233927_init`))
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  return { dir, file, url }
}

test('backup --out writes a private backup; backup verify checks it completely and lists what it holds', async t => {
  const { dir, file } = await backedUp(t)
  const v = await runCli(['backup', 'verify', file], envOf(dir), dir)
  assert.equal(v.code, 0, v.all)
  assert.match(v.out, /is a complete, valid backup, restorable into sqlite\./)
  assert.match(v.out, /^ {2}AdminUser +1$/m)
  assert.match(v.out, /Administrators: admin\./)

  // With no configuration at all, it is checked against the engine it was made on.
  const elsewhere = await tempDir(t)
  assert.equal((await runCli(['backup', 'verify', file], envOf(elsewhere), elsewhere)).code, 0)

  // The wizard's own refusal, word for word.
  const bytes = (await stat(file)).size
  await truncate(file, Math.floor(bytes / 2))
  const broken = await runCli(['backup', 'verify', file], envOf(dir), dir)
  assert.equal(broken.code, 1)
  assert.match(broken.err, /This backup cannot be restored: The backup is (incomplete: the file ends early|damaged)/)
  const absent = await runCli(['backup', 'verify', path.join(dir, 'nope.tar.gz')], envOf(dir), dir)
  assert.equal(absent.code, 1)
})

test('backup refuses an app that is not installed, and leaves no file behind', async t => {
  const dir = await tempDir(t)
  const r = await runCli(['backup', '--out', 'x.tar.gz'], envOf(dir), dir)
  assert.equal(r.code, 1)
  assert.match(r.err, /not installed yet/)
  await assert.rejects(stat(path.join(dir, 'x.tar.gz')))
})

for (const provider of ['sqlite', 'mysql', 'postgresql'] as Provider[]) {
  test(`restore moves a SQLite install into an empty ${provider} database and locks the new install`, async t => {
    const { file, url: sourceUrl } = await backedUp(t)
    const targetUrl = await emptyDatabase(t, provider)
    if (!targetUrl) return
    const dir = await tempDir(t)
    // Configured but not installed: the database only, as a person sets it up on the new host.
    await writeFile(path.join(dir, '.env'), `DATABASE_PROVIDER=${provider}\nDATABASE_URL=${targetUrl}\nPORT=4321\n`)
    const r = await runCli(['restore', file], envOf(dir), dir)
    assert.equal(r.code, 0, r.all)
    assert.match(r.out, /Restored \d+ rows in 3 tables; \d+ migrations applied; the install is locked in /)

    const source = await logicalDump('sqlite', sourceUrl)
    const target = await logicalDump(provider, targetUrl)
    assert.deepEqual(target.AdminUser, source.AdminUser)
    assert.ok(target.Setting.some(row => row.includes('cli:marker')))
    const env = (await readEnvFile(path.join(dir, '.env')))!
    assert.equal(env.PORT, '4321', 'keys the person wrote are kept')
    assert.match(env.APP_INSTALLED_AT, /^\d{4}-\d\d-\d\dT/)
    assert.ok(env.SESSION_SECRET.length >= 32)
    assert.ok(!r.all.includes(env.SESSION_SECRET))

    const doctor = await runCli(['doctor'], envOf(dir), dir)
    assert.match(doctor.out, /Install lock\n {2}\[ ok \] Installed at /)
    const again = await runCli(['restore', file], envOf(dir), dir)
    assert.equal(again.code, 1)
    assert.match(again.err, /already installed/)
  })
}

test('restore refuses a database that already holds rows, and one that holds another application', async t => {
  const { file, url } = await backedUp(t)
  const before = await logicalDump('sqlite', url)
  // The same database, seen from a configuration that is not installed: it holds the rows already.
  const dir = await tempDir(t)
  await writeFile(path.join(dir, '.env'), `DATABASE_PROVIDER=sqlite\nDATABASE_URL=${url}\n`)
  const full = await runCli(['restore', file], envOf(dir), dir)
  assert.equal(full.code, 1)
  assert.match(full.err, /The restore failed, nothing was kept: The chosen database already holds data \(table \w+\)/)
  assert.deepEqual(await logicalDump('sqlite', url), before)
  assert.equal((await readFile(path.join(dir, '.env'), 'utf8')).includes('APP_INSTALLED_AT'), false)

  const mysql = await emptyDatabase(t, 'mysql')
  if (!mysql) return
  const { adminQuery } = await import('../../helpers/databases.ts')
  const name = new URL(mysql).pathname.slice(1)
  await adminQuery('mysql', 'CREATE TABLE wp_posts (id INT PRIMARY KEY)', name)
  const other = await tempDir(t)
  await writeFile(path.join(other, '.env'), `DATABASE_PROVIDER=mysql\nDATABASE_URL=${mysql}\n`)
  const foreign = await runCli(['restore', file], envOf(other), other)
  assert.equal(foreign.code, 1)
  assert.match(foreign.err, /The target database cannot take the restore: it already holds tables \(wp_posts\)/)
})

test('restore without a configured database says what to set', async t => {
  const { file } = await backedUp(t)
  const dir = await tempDir(t)
  const r = await runCli(['restore', file], envOf(dir), dir)
  assert.equal(r.code, 1)
  assert.match(r.err, /set DATABASE_PROVIDER and DATABASE_URL in/)
})
