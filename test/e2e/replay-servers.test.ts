// The product end to end on database servers: `npm start` on a fresh directory, then `npm run replay` installs
// onto PostgreSQL (fields, "Create it") and onto MariaDB (a URL with a password full of special characters),
// ending signed in; and three app processes started together on one empty database migrate it exactly once.
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { tempDir } from '../helpers/tmp.ts'
import { chromiumPath } from '../helpers/services.ts'
import { startServer, type RunningServer, runReplay, freshServer, writeAnswers } from '../helpers/server.ts'
import { adminConnection, adminQuery, createDatabase, createRole, dropAfter, requireServer, uniqueName } from '../helpers/databases.ts'
import { listLocalMigrations } from '../../server/db/migrate.ts'
import { type ServerProvider } from '../../server/db/url.ts'
import { buildDatabaseUrl } from '../../server/db/engines/index.ts'
import { referenceSchema } from '../../server/reference.ts'

const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'

async function migrationRows (provider: ServerProvider, database: string): Promise<Array<{ name: string, n: number }>> {
  const sql = provider === 'postgresql'
    ? 'SELECT migration_name AS name, COUNT(*) AS n FROM "_prisma_migrations" GROUP BY migration_name ORDER BY 1'
    : 'SELECT migration_name AS name, COUNT(*) AS n FROM `_prisma_migrations` GROUP BY migration_name ORDER BY 1'
  const [rows] = await adminQuery(provider, sql, database) as Array<Array<{ name: string, n: unknown }>>
  return rows.map(r => ({ name: r.name, n: Number(r.n) }))
}

async function expectNormalMode (server: RunningServer): Promise<void> {
  const health = await fetch(`${server.url}/health`)
  assert.equal(health.status, 200, server.output())
  assert.deepEqual(await health.json(), { status: 'ok', db: 'ok', cache: 'ok' })
  assert.equal((await fetch(`${server.url}/setup`, { redirect: 'manual' })).status, 404)
}

async function replayInstall (t: TestContext, provider: ServerProvider, database: Record<string, unknown>, secrets: Record<string, string>, secret: string): Promise<{ server: RunningServer, dir: string, seconds: number }> {
  const browser = chromiumPath(t)
  assert.ok(browser)
  const { dir, env, server } = await freshServer(t, browser)
  const answers = await writeAnswers(dir, {
    language: 'en',
    database,
    cache: { backend: 'memory' },
    admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
  })
  const started = performance.now()
  const run = await runReplay([answers, '--url', server.url], { ...env, ...secrets, ADMIN_PASSWORD: PASSWORD }, dir)
  const seconds = (performance.now() - started) / 1000
  assert.equal(run.code, 0, run.out)
  for (const step of ['token', 'language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize', 'login']) {
    assert.match(run.out, new RegExp(`✓ ${step}\\s+\\d+\\.\\d+ s`), `a line for ${step}`)
  }
  console.log(`# full replay on ${provider}: ${seconds.toFixed(1)} s`)
  t.diagnostic(`full replay on ${provider}: ${seconds.toFixed(1)} s`)
  for (const text of [run.out, server.output()]) {
    assert.ok(!text.includes(secret) && !text.includes(encodeURIComponent(secret)), 'the database password is never printed nor logged')
    assert.ok(!text.includes(PASSWORD), 'the admin password is never printed nor logged')
  }
  await expectNormalMode(server)
  return { server, dir, seconds }
}

// Independent tests (databases, servers and directories of their own), each waiting mostly on its processes
// and database server: two at a time (all five at once start eight servers together, too much at a time for
// the shortest time limits on a loaded machine).
describe('database servers', { concurrency: 2 }, () => {
  test('replay onto PostgreSQL: fields, a missing database created by the wizard, normal mode, restart stays installed', { timeout: 600_000 }, async t => {
    if (!await requireServer(t, 'postgresql') || !chromiumPath(t)) return
    const name = uniqueName()
    dropAfter(t, 'postgresql', name)
    const role = await createRole(t, 'postgresql', { createdb: true })
    const admin = adminConnection('postgresql')
    const { server, dir } = await replayInstall(t, 'postgresql', {
      provider: 'postgresql', host: admin.host, port: admin.port, user: role.user, password: '${DB_PASSWORD}', database: name, ssl: 'off', create: true
    }, { DB_PASSWORD: role.password }, role.password)
    assert.deepEqual((await migrationRows('postgresql', name)).map(r => r.n), (await listLocalMigrations('postgresql', { migrationsDir: referenceSchema.migrationsDir('postgresql') })).map(() => 1))
    const env = await readFile(path.join(dir, '.env'), 'utf8')
    assert.match(env, /DATABASE_PROVIDER=postgresql/)
    assert.match(env, new RegExp(`DATABASE_URL=.*postgresql://${role.user}:.*@127\\.0\\.0\\.1:5432/${name}\\?sslmode=disable`))

    assert.equal(await server.stop('SIGTERM'), 0)
    const again = await startServer(t, { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, dir)
    assert.match(again.output(), /running at .* \(installed\)/)
    await expectNormalMode(again)
  })

  test('replay onto MariaDB: a mariadb:// URL with a password full of special characters, normal mode', { timeout: 600_000 }, async t => {
    if (!await requireServer(t, 'mysql') || !chromiumPath(t)) return
    const db = await createDatabase(t, 'mysql')
    const role = await createRole(t, 'mysql', { allOn: [db.database] })
    const url = buildDatabaseUrl({ ...db, user: role.user, password: role.password }).replace(/^mysql:/, 'mariadb:')
    await replayInstall(t, 'mysql', { provider: 'mysql', url: '${DB_URL}' }, { DB_URL: url }, role.password)
    assert.deepEqual((await migrationRows('mysql', db.database)).map(r => r.n), (await listLocalMigrations('mysql', { migrationsDir: referenceSchema.migrationsDir('mysql') })).map(() => 1))
    const [[admin]] = await adminQuery('mysql', 'SELECT username, locale FROM `AdminUser`', db.database) as Array<Array<{ username: string, locale: string }>>
    assert.deepEqual({ ...admin }, { username: 'admin', locale: 'en' })
  })

  for (const provider of ['postgresql', 'mysql'] as const) {
    test(`${provider}: three app processes started at once on one empty database migrate it exactly once and all serve normal mode`, { timeout: 180_000 }, async t => {
      if (!await requireServer(t, provider)) return
      const db = await createDatabase(t, provider)
      const dir = await tempDir(t)
      // The .env an install (or a deployment tool) leaves: installed, pointing at the empty database.
      await writeFile(path.join(dir, '.env'), [
        `DATABASE_PROVIDER=${provider}`,
        `DATABASE_URL="${buildDatabaseUrl(db)}"`,
        'CACHE_BACKEND=memory',
        `SESSION_SECRET=${randomBytes(32).toString('base64url')}`,
        'APP_LOCALE=en',
        `APP_INSTALLED_AT=${new Date().toISOString()}`,
        ''
      ].join('\n'), { mode: 0o600 })
      const env = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), LOG_LEVEL: 'info', LOG_JSON: '1' }
      const started = performance.now()
      const servers = await Promise.all([1, 2, 3].map(() => startServer(t, env, dir)))
      t.diagnostic(`three processes up in ${((performance.now() - started) / 1000).toFixed(1)} s`)
      for (const server of servers) {
        assert.match(server.output(), /running at .* \(installed\)/)
        await expectNormalMode(server)
      }
      const local = (await listLocalMigrations(provider, { migrationsDir: referenceSchema.migrationsDir(provider) })).map(m => m.name)
      assert.deepEqual(await migrationRows(provider, db.database), local.map(name => ({ name, n: 1 })))
      // Each migration is logged as applied by exactly one of the three.
      for (const name of local) {
        const appliedBy = servers.filter(s => s.output().includes('"migration applied"') && s.output().includes(name))
        assert.equal(appliedBy.length, 1, `${name} applied by ${appliedBy.length} processes:\n${servers.map(s => s.output()).join('\n---\n')}`)
      }
    })
  }

  test('with JavaScript, "Test connection" and "Create it" answer inline: no reload, typed values (password included) stay', { timeout: 120_000 }, async t => {
    const browserPath = chromiumPath(t)
    if (!browserPath || !await requireServer(t, 'postgresql')) return
    const { launchChromium } = await import('../../server/replay/replay.ts')
    const dir = await tempDir(t)
    const server = await startServer(t, { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, dir)
    const token = (await readFile(path.join(dir, 'data', 'setup-token'), 'utf8')).trim()
    const browser = await launchChromium(browserPath)
    t.after(() => browser.close())
    const page = await browser.newPage({ locale: 'en-US' })
    // Script errors (a 422 answer is logged by the browser as a failed resource: not a script error).
    const errors: string[] = []
    page.on('pageerror', e => errors.push(e.message))
    await page.goto(`${server.url}/setup?token=${token}`)
    await page.getByRole('radio', { name: 'English' }).check()
    await page.getByRole('button', { name: 'Next', exact: true }).click()
    await page.getByRole('button', { name: 'Next', exact: true }).click()
    await page.waitForURL(/\/setup\/database$/)

    // The server fields show once a server is chosen, with its default port.
    await page.getByRole('radio', { name: 'PostgreSQL' }).check()
    assert.equal(await page.getByLabel('Port', { exact: true }).inputValue(), '5432')
    await page.getByRole('radio', { name: 'MySQL / MariaDB' }).check()
    assert.equal(await page.getByLabel('Port', { exact: true }).inputValue(), '3306')
    await page.getByRole('radio', { name: 'PostgreSQL' }).check()
    assert.equal(await page.getByLabel('Database file', { exact: true }).isVisible(), false)

    const name = uniqueName()
    dropAfter(t, 'postgresql', name)
    await page.getByLabel('Host', { exact: true }).fill('127.0.0.1')
    await page.getByLabel('Port', { exact: true }).fill('1')
    await page.getByLabel('User name', { exact: true }).fill('postgres')
    await page.getByLabel('Password', { exact: true }).fill('typed-secret')
    await page.getByLabel('Database name', { exact: true }).fill(name)
    let loads = 0
    page.on('load', () => { loads++ })
    const test1 = page.waitForResponse(r => r.request().method() === 'POST' && r.request().headers()['x-requested-with'] === 'fetch')
    await page.getByRole('button', { name: 'Test connection' }).click()
    assert.equal((await test1).status(), 422)
    await page.locator('[data-test-result]:not([aria-busy])').getByText('Nothing accepts connections at 127.0.0.1:1.').waitFor()
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), 'typed-secret', 'the typed password stays')

    await page.getByLabel('Port', { exact: true }).fill('5432')
    await page.getByRole('button', { name: 'Test connection' }).click()
    // Inline, in the test's result (the error summary above links to it with the same words).
    await page.locator('[data-test-result]:not([aria-busy])').getByText(`The database “${name}” does not exist.`).waitFor()
    await page.getByRole('button', { name: `Create the database “${name}”` }).click()
    await page.getByText(`The database “${name}” was created.`).waitFor()
    await page.getByText('is empty and the account has every privilege needed').waitFor()
    assert.equal(loads, 0, 'no page load: everything happened inline')
    assert.deepEqual(errors, [])
    await page.getByRole('button', { name: 'Next', exact: true }).click()
    await page.waitForURL(/\/setup\/cache$/)
  })
})
