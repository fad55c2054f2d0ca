// The dry run end to end (issue 16): `npm run replay -- answers.json --url … --dry-run` against real servers
// (`npm start`, PORT=0) walks every step in headless Chromium and stops on the summary: a good answers file exits
// 0 and prints the plan (the .env with secrets masked, the migrations, the restore, the admin); bad ones (a weak
// password, an unreachable database, a hostile backup) exit 1 with the page's message. Either way the server is
// left as it was: its data directory (names, sizes, contents), the .env location and the database are compared
// before and after, and every upload is gone.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromiumPath } from '../helpers/services.ts'
import { freshServer, runReplay } from '../helpers/server.ts'
import { refusedPort } from '../helpers/net.ts'
import { tempDir } from '../helpers/tmp.ts'
import { tarOf } from '../helpers/tar.ts'
import { adminConnection, adminQuery, createRole, dropAfter, requireServer, uniqueName } from '../helpers/databases.ts'
import { emptyDatabase, sampleRows, seed } from '../integration/backup/fixtures.ts'
import { createBackup } from '../../server/backup/create.ts'
import { listLocalMigrations } from '../../server/db/migrate.ts'
import { referenceSchema } from '../../server/reference.ts'
import { MASK } from '../../server/setup/dry-run.ts'
import type { FleetReport } from '../../server/replay/report.ts'

const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'
const ADMIN = { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }

/** `npm run replay -- …` with its messages in English. */
const replayCli = (args: string[], env: NodeJS.ProcessEnv, cwd: string) => runReplay(args, { AMORCE_LANG: 'en', ...env }, cwd)

/** A server's directory as a dry run must leave it: every path, its size and a hash of its content (the .env location included). */
async function snapshot (dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (at: string) => {
    for (const e of (await readdir(at, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(at, e.name)
      if (e.isDirectory()) {
        out.push(`${path.relative(dir, p)}/`)
        await walk(p)
      } else {
        out.push(`${path.relative(dir, p)} ${(await stat(p)).size} ${createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 16)}`)
      }
    }
  }
  await walk(dir)
  return out
}

// Independent tests (servers and directories of their own), each waiting mostly on its replays: run together.
describe('dry runs', { concurrency: 2 }, () => {
  test('dry runs on SQLite: good answers exit 0 with the plan; a weak password, an unreachable database and a hostile backup exit 1 with the page\'s words; nothing is written', { timeout: 600_000 }, async t => {
    const browser = chromiumPath(t)
    if (!browser) return
    const servers = await Promise.all([1, 2, 3, 4].map(() => freshServer(t, browser)))
    const [good, weak, unreachable, hostile] = servers
    const before = await Promise.all(servers.map(s => snapshot(s.dir)))

    // The answers and backups live beside the replay, not on the servers.
    const here = await tempDir(t)
    const sqlite = { provider: 'sqlite', file: 'data/app.db' }
    const answers = (name: string, body: Record<string, unknown>) => writeFile(path.join(here, name), JSON.stringify({ version: 1, language: 'en', restore: null, admin: ADMIN, ...body }))
    await answers('good.json', { database: sqlite, cache: { backend: 'filesystem', dir: 'data/cache' } })
    await answers('weak.json', { database: sqlite, cache: { backend: 'memory' }, admin: { ...ADMIN, password: 'password123' } })
    const port = await refusedPort()
    await answers('unreachable.json', { database: { provider: 'postgresql', host: '127.0.0.1', port, user: 'amorce', password: '${DB_PASSWORD}', database: 'amorce', ssl: 'off' }, cache: { backend: 'memory' } })
    // A hostile archive: an entry that climbs out of any directory it would be read into.
    await writeFile(path.join(here, 'hostile.tar.gz'), gzipSync(tarOf([{ name: '../../../etc/cron.d/amorce', data: '* * * * * root sh -c "echo owned"\n' }])))
    await answers('hostile.json', { database: sqlite, cache: { backend: 'memory' }, restore: { file: 'hostile.tar.gz' } })
    // A good backup (an earlier install's rows), uploaded by a dry run that must delete it afterwards.
    const source = (await emptyDatabase(t, 'sqlite'))!
    await seed('sqlite', source, sampleRows())
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(path.join(here, 'backup.tar.gz'))
      out.on('error', reject)
      out.on('finish', resolve)
      createBackup(out, { schema: referenceSchema, provider: 'sqlite', url: source }).catch(reject)
    })
    await answers('restore.json', { database: sqlite, cache: { backend: 'memory' }, restore: { file: 'backup.tar.gz' }, admin: { keepRestored: true, username: 'alice', password: '${ADMIN_PASSWORD}' } })
    const env = { CHROMIUM_PATH: browser, ADMIN_PASSWORD: PASSWORD, DB_PASSWORD: 'Sel-Poivre-Muscade-42' }
    const migrations = (await listLocalMigrations('sqlite', { migrationsDir: referenceSchema.migrationsDir('sqlite') })).map(m => m.name)

    // One server, text output: the verdict and the plan.
    const one = await replayCli(['good.json', '--url', good.server.url, '--dry-run', '--data-dir', good.env.DATA_DIR!], env, here)
    assert.equal(one.code, 0, one.stdout + one.stderr)
    for (const step of ['token', 'language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize']) assert.match(one.stdout, new RegExp(`✓ ${step}\\s+\\d+\\.\\d+ s`), `a line for ${step}`)
    assert.doesNotMatch(one.stdout, /✓ login/, 'a dry run does not sign in: nobody was created')
    assert.match(one.stdout, /Dry run: Install would be accepted on http:\/\/127\.0\.0\.1:\d+ \([\d.]+ s\)\. Nothing was installed\./)
    assert.match(one.stdout, /Database: Install would create .*data\/app\.db \(SQLite/)
    assert.match(one.stdout, new RegExp(`Migrations to apply: ${migrations.length} \\(0 already in place\\)\\n${migrations.map(m => `\\s+${m}\\n`).join('')}`))
    assert.match(one.stdout, /Restore: none \(a fresh start\)/)
    assert.match(one.stdout, /Administrator: admin <admin@example\.com>/)
    assert.match(one.stdout, new RegExp(`Configuration file ${good.env.ENV_FILE!.replace(/[/.]/g, '\\$&')}, secrets masked:`))
    assert.match(one.stdout, /^\s+DATABASE_PROVIDER=sqlite$/m)
    assert.match(one.stdout, /^\s+CACHE_BACKEND=filesystem$/m)
    assert.match(one.stdout, /^\s+CACHE_DIR=.*data\/cache$/m)
    assert.match(one.stdout, new RegExp(`^\\s+SESSION_SECRET=${MASK}$`, 'm'))
    assert.match(one.stdout, /The dry-run session was ended on the server/)
    assert.ok(!one.stdout.includes(PASSWORD) && !one.stderr.includes(PASSWORD), 'the password is never printed')

    // Four servers at once, --report json: three refused with their reasons, the restore accepted.
    await writeFile(path.join(here, 'servers.json'), JSON.stringify([
      { url: weak.server.url, dataDir: weak.env.DATA_DIR, answers: 'weak.json', name: 'weak' },
      { url: unreachable.server.url, dataDir: unreachable.env.DATA_DIR, answers: 'unreachable.json', name: 'unreachable' },
      { url: hostile.server.url, dataDir: hostile.env.DATA_DIR, answers: 'hostile.json', name: 'hostile' },
      { url: good.server.url, dataDir: good.env.DATA_DIR, answers: 'restore.json', name: 'restore' }
    ]))
    const many = await replayCli(['--servers', 'servers.json', '--dry-run', '--report', 'json', '--concurrency', '4'], env, here)
    assert.equal(many.code, 1, `not every Install would be accepted: exit 1\n${many.stderr}`)
    const report = JSON.parse(many.stdout) as FleetReport
    assert.equal(report.dryRun, true)
    assert.equal(report.ok, false)
    const by = Object.fromEntries(report.servers.map(s => [s.name, s]))
    assert.deepEqual(report.servers.map(s => [s.name, s.status, s.failedStep]), [['weak', 'failed', 'admin'], ['unreachable', 'failed', 'database'], ['hostile', 'failed', 'restore'], ['restore', 'ok', null]])
    assert.match(by.weak.message!, /Use at least 10 characters|too common|easy to guess/i)
    assert.equal(by.weak.messageKey?.startsWith('password.') || by.weak.messageKey?.startsWith('setup.admin.'), true, String(by.weak.messageKey))
    assert.match(by.unreachable.message!, new RegExp(`Nothing accepts connections at 127\\.0\\.0\\.1:${port}\\.`))
    assert.ok(by.hostile.message && by.hostile.message.length > 0)
    assert.match(by.hostile.messageKey ?? '', /^(setup\.restore|backup)\./)
    for (const name of ['weak', 'unreachable', 'hostile']) {
      const d = by[name].dryRun!
      assert.equal(d.accepted, false, name)
      assert.equal(d.sessionEnded, true, `${name}: the session was ended on the server`)
      assert.equal(d.refusal?.key, 'setup.finalize.errors.incomplete', name)
      assert.equal(d.envFile, null)
    }
    const restored = by.restore.dryRun!
    assert.equal(restored.accepted, true)
    assert.equal(restored.sessionEnded, true)
    assert.deepEqual(restored.admin, { keepRestored: true, usernames: ['alice', 'bób_ü'] })
    assert.equal(restored.restore?.sourceProvider, 'sqlite')
    assert.deepEqual(restored.restore?.tables.map(x => [x.name, x.rows]).sort(), [['AdminUser', 2], ['AuditLog', 3], ['Setting', 3]])
    assert.equal(restored.restore?.totalRows, 8)
    assert.deepEqual(restored.migrations?.pending, migrations)
    assert.equal(restored.database?.create, true)
    assert.equal(restored.env.find(e => e.key === 'SESSION_SECRET')?.value, MASK)
    assert.equal(restored.env.find(e => e.key === 'SESSION_SECRET')?.masked, true)
    // The table for a person says verdicts, not installs.
    assert.match(many.stderr, /4 servers: 1 accepted, 3 refused, in [\d.]+ s\. Nothing was installed\./)

    // Every server as it was: no database file, no cache directory, no upload, no .env, the same token.
    const after = await Promise.all(servers.map(s => snapshot(s.dir)))
    for (const [i, s] of servers.entries()) assert.deepEqual(after[i], before[i], `${s.server.url}: the directory is as it was`)
    for (const s of servers) {
      assert.equal((await fetch(`${s.server.url}/health`)).status, 200)
      assert.deepEqual(await (await fetch(`${s.server.url}/health`)).json(), { status: 'setup' }, 'still waiting for its install')
    }
  })

  test('dry run on PostgreSQL with a missing database and "create": exit 0, the plan says Install would create it, and it still does not exist; the same answers then install', { timeout: 600_000 }, async t => {
    const browser = chromiumPath(t)
    if (!browser || !await requireServer(t, 'postgresql')) return
    const name = uniqueName()
    dropAfter(t, 'postgresql', name)
    const role = await createRole(t, 'postgresql', { createdb: true })
    const pg = adminConnection('postgresql')
    const { dir, env, server } = await freshServer(t, browser)
    const before = await snapshot(dir)
    const here = await tempDir(t)
    await writeFile(path.join(here, 'answers.json'), JSON.stringify({
      version: 1, language: 'fr', restore: null, cache: { backend: 'memory' }, admin: ADMIN,
      database: { provider: 'postgresql', host: pg.host, port: pg.port, user: role.user, password: '${DB_PASSWORD}', database: name, ssl: 'off', create: true }
    }))
    const run = await replayCli(['answers.json', '--url', server.url, '--dry-run', '--report', 'json', '--data-dir', env.DATA_DIR!], { CHROMIUM_PATH: browser, ADMIN_PASSWORD: PASSWORD, DB_PASSWORD: role.password, AMORCE_LANG: 'fr' }, here)
    assert.equal(run.code, 0, run.stderr)
    const [outcome] = (JSON.parse(run.stdout) as FleetReport).servers
    const d = outcome.dryRun!
    assert.equal(d.accepted, true)
    assert.deepEqual(d.database, { provider: 'postgresql', target: name, create: true })
    assert.deepEqual(d.migrations?.pending, (await listLocalMigrations('postgresql', { migrationsDir: referenceSchema.migrationsDir('postgresql') })).map(m => m.name))
    const url = d.env.find(e => e.key === 'DATABASE_URL')!
    assert.equal(url.masked, true)
    assert.match(url.value, new RegExp(`^postgresql://${role.user}:${MASK}@127\\.0\\.0\\.1:5432/${name}`))
    for (const text of [run.stdout, run.stderr, server.output()]) {
      assert.ok(!text.includes(role.password) && !text.includes(encodeURIComponent(role.password)), 'the database password shows nowhere')
    }
    // In French, for a person, on stderr (stdout is the report).
    assert.match(run.stderr, /Essai à blanc\u00a0: Installer serait accepté sur/)
    assert.match(run.stderr, new RegExp(`Base de données\u00a0: Installer créerait ${name} \\(PostgreSQL`))

    const [rows] = await adminQuery('postgresql', `SELECT datname FROM pg_database WHERE datname = '${name}'`) as Array<unknown[]>
    assert.deepEqual(rows, [], 'the database was not created')
    assert.deepEqual(await snapshot(dir), before, 'the data directory and the .env location are as they were')

    // The same answers, for real, on the same server (its token still valid): the database created, normal mode.
    const install = await replayCli(['answers.json', '--url', server.url, '--data-dir', env.DATA_DIR!], { CHROMIUM_PATH: browser, ADMIN_PASSWORD: PASSWORD, DB_PASSWORD: role.password }, here)
    assert.equal(install.code, 0, install.stdout + install.stderr)
    const [created] = await adminQuery('postgresql', `SELECT datname FROM pg_database WHERE datname = '${name}'`) as Array<unknown[]>
    assert.equal(created.length, 1, 'the real install created it')
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: 'ok', db: 'ok', cache: 'ok' })
  })
})
