// A PostgreSQL database that dies in the middle of the migration stage: a clear message, no
// password anywhere (pages, logs), and a retry from the summary that completes once it is back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import path from 'node:path'
import pg from 'pg'
import { buildApp } from '../../../server/app.ts'
import { MIGRATIONS_TABLE_DDL } from '../../../server/db/migrate.ts'
import { adminConnection, createDatabase, createRole, requireServer } from '../../helpers/databases.ts'
import { Client, STRONG_PASSWORD, tempDir, text } from '../../helpers/app.ts'
import type { FastifyInstance, InjectOptions } from 'fastify'

class RecordingClient extends Client {
  readonly seen: string[] = []
  constructor (app: FastifyInstance) { super(app) }
  override async request (opts: InjectOptions) {
    const res = await super.request(opts)
    this.seen.push(`${res.statusCode}\n${JSON.stringify(res.headers)}\n${res.body}`)
    return res
  }
}

test('PostgreSQL dying mid-migration: clear failure, then a working retry; the password never shows', { timeout: 120_000 }, async t => {
  if (!await requireServer(t, 'postgresql')) return
  const db = await createDatabase(t, 'postgresql')
  const role = await createRole(t, 'postgresql', { allOn: [db.database] })
  const admin = adminConnection('postgresql')
  const blocker = new pg.Client({ host: admin.host, port: admin.port, user: admin.user, password: admin.password, database: db.database })
  blocker.on('error', () => {}) // the database is dropped (WITH FORCE) when the test ends
  await blocker.connect()
  t.after(() => blocker.end().catch(() => {}))

  const dir = await tempDir(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const app = await buildApp({ env: { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, cwd: dir, logger: { level: 'debug', stream } })
  t.after(() => app.close())
  const client = new RecordingClient(app)
  await client.post('/setup/token', { token: app.amorce.setup!.token })
  const steps: Array<[string, Record<string, string>]> = [
    ['language', { language: 'en' }],
    ['prerequisites', {}],
    ['database', { provider: 'postgresql', host: db.host, port: String(db.port), user: role.user, password: role.password, database: db.database, tls: 'off' }],
    ['cache', { backend: 'filesystem', dir: path.join(dir, 'data', 'cache') }],
    ['restore', { mode: 'fresh' }],
    ['admin', { username: 'admin', email: 'admin@example.com', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD }]
  ]
  for (const [step, form] of steps) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `step ${step}: ${text(res).match(/role="alert"[^>]*>([^<]*)/)?.[1] ?? res.body.slice(0, 300)}`)
  }

  // The migration history table exists and is locked: the runner connects, then waits on it…
  await blocker.query(MIGRATIONS_TABLE_DDL.postgresql)
  await blocker.query(`GRANT ALL ON TABLE _prisma_migrations TO "${role.user}"`)
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE _prisma_migrations IN ACCESS EXCLUSIVE MODE')
  let settled = false
  const install = client.post('/setup/finalize', { _action: 'install' }).finally(() => { settled = true })
  // …until the server drops its connections, as a crashing or restarting database would.
  // (A generous wait: on a loaded machine the stages before the migration can be slow.)
  const until = Date.now() + 45_000
  let killed = 0
  while (killed === 0 && Date.now() < until) {
    if (settled) assert.fail(`the install ended before the database went away: ${text(await install).slice(-800)}`)
    await new Promise(resolve => setTimeout(resolve, 50))
    const { rows } = await blocker.query("SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND wait_event_type = 'Lock'", [db.database, role.user])
    killed = rows.length
  }
  if (killed === 0) {
    const activity = await blocker.query('SELECT usename, state, wait_event_type, wait_event, left(query, 80) AS q FROM pg_stat_activity WHERE datname = $1', [db.database])
    const handles = (process as unknown as { _getActiveHandles(): Array<{ constructor: { name: string }, remotePort?: number, connecting?: boolean, pending?: boolean }> })._getActiveHandles()
      .map(h => `${h.constructor.name}${h.remotePort ? `:${h.remotePort}` : ''}${h.connecting ? ' connecting' : ''}`)
    const all = await blocker.query('SELECT count(*) AS n FROM pg_stat_activity')
    assert.fail(`the migration was not caught waiting inside the database; sessions: ${JSON.stringify(activity.rows)}; cluster sessions ${all.rows[0].n}; handles ${handles.join(', ')}; journal ${JSON.stringify(app.amorce.config.dataDir)}; last log lines:\n${lines.slice(-8).join('')}`)
  }
  const failed = await install
  assert.match(failed.body, /data-stage="migrate" data-status="failed"/)
  assert.match(failed.body, /install-failed/)
  const message = text(failed).match(/<p class="error" role="alert">([^<]*)/)?.[1] ?? ''
  assert.match(message, /The connection to the database was lost while it was being prepared .*Check that the database server is running/, `a clear message: ${message}`)
  assert.match(text(failed), /Back to the summary/)
  assert.equal(app.amorce.mode, 'setup')
  await blocker.query('ROLLBACK')

  // Back to the summary, Install again: it completes, with one migration and one administrator.
  assert.equal((await client.get('/setup/finalize')).statusCode, 200)
  const retry = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(retry.body, /install-done/, retry.body.slice(-600))
  assert.equal(app.amorce.mode, 'normal')
  const count = async (sql: string) => Number((await blocker.query(sql)).rows[0].n)
  assert.equal(await count('SELECT count(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL'), 1)
  assert.equal(await count('SELECT count(*) AS n FROM "AdminUser"'), 1)

  // Closed here, before the database is dropped (the drop terminates whatever is still connected).
  await app.close()
  for (const value of [role.password, encodeURIComponent(role.password)]) {
    for (const body of client.seen) assert.ok(!body.includes(value), `the database password in a response: ${body.slice(0, 200)}`)
    for (const line of lines) assert.ok(!line.includes(value), `the database password in the log: ${line.slice(0, 300)}`)
  }
})
