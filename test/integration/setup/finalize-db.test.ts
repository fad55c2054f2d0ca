// A PostgreSQL database that dies in the middle of the migration stage: a clear message, no
// password anywhere (pages, logs), and a retry from the summary that completes once it is back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import path from 'node:path'
import pg from 'pg'
import { buildApp } from '../../../server/app.ts'
import { MIGRATIONS_TABLE_DDL } from '../../../server/db/migrate.ts'
import { currentFinalize } from '../../../server/setup/finalize.ts'
import { adminConnection, createDatabase, createRole, requireServer } from '../../helpers/databases.ts'
import { tcpProxy } from '../../helpers/net.ts'
import { Client, tempDir, text, wizardAnswers } from '../../helpers/app.ts'
import type { FastifyInstance, InjectOptions } from 'fastify'

/** The wizard's valid answers (test/helpers/app.ts) with this PostgreSQL database, up to the summary. */
async function walkToSummary (client: Client, dir: string, database: Record<string, string>): Promise<void> {
  for (const [step, form] of wizardAnswers(dir)) {
    const res = await client.post(`/setup/${step}`, { ...(step === 'database' ? database : form), _action: 'next' })
    assert.equal(res.statusCode, 303, `step ${step}: ${text(res).match(/role="alert"[^>]*>([^<]*)/)?.[1] ?? res.body.slice(0, 300)}`)
  }
}

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
  await walkToSummary(client, dir, { provider: 'postgresql', host: db.host, port: String(db.port), user: role.user, password: role.password, database: db.database, tls: 'off' })

  // The migration history table exists and is locked: the runner connects, then waits on it…
  await blocker.query(MIGRATIONS_TABLE_DDL.postgresql)
  await blocker.query(`GRANT ALL ON TABLE _prisma_migrations TO "${role.user}"`)
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE _prisma_migrations IN ACCESS EXCLUSIVE MODE')
  const blockerPid = Number((await blocker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)
  // Watched from a connection of its own, outside the blocker's transaction: PostgreSQL takes one
  // snapshot of pg_stat_activity per transaction, so polling from inside it would only ever see
  // the sessions of its first look (the cause of this test's old failures on a busy machine).
  const watcher = new pg.Client({ host: admin.host, port: admin.port, user: admin.user, password: admin.password, database: db.database })
  watcher.on('error', () => {})
  await watcher.connect()
  t.after(() => watcher.end().catch(() => {}))
  let settled = false
  const install = client.post('/setup/finalize', { _action: 'install' }).finally(() => { settled = true })
  // …until the server drops its connections, as a crashing or restarting database would: the
  // session that waits on the blocker's lock is terminated as soon as it is seen (polled, deadline
  // generous for a loaded machine).
  const until = Date.now() + 60_000
  let killed = 0
  while (killed === 0 && Date.now() < until) {
    if (settled) assert.fail(`the install ended before the database went away: ${text(await install).slice(-800)}`)
    const { rows } = await watcher.query('SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND $3 = ANY(pg_blocking_pids(pid))', [db.database, role.user, blockerPid])
    killed = rows.length
    if (killed === 0) await new Promise(resolve => setTimeout(resolve, 50))
  }
  if (killed === 0) {
    const activity = await watcher.query('SELECT usename, state, wait_event_type, wait_event, left(query, 80) AS q FROM pg_stat_activity WHERE datname = $1', [db.database])
    const events = currentFinalize(app)?.events.map(e => `${e.stage}:${e.status}`).join(' ') ?? 'no install job'
    assert.fail(`the migration was not caught waiting inside the database; sessions: ${JSON.stringify(activity.rows)}; install events: ${events}; last log lines:\n${lines.slice(-8).join('')}`)
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

test('a PostgreSQL server that accepts the connection and never answers: the install stops on its own, naming the timeout', { timeout: 120_000 }, async t => {
  if (!await requireServer(t, 'postgresql')) return
  const db = await createDatabase(t, 'postgresql')
  // The wizard's checks go through to the real server; then it goes silent, as a stuck server does.
  const proxy = await tcpProxy(t, { host: db.host, port: db.port })
  const dir = await tempDir(t)
  const app = await buildApp({ env: { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, cwd: dir, logger: false })
  t.after(() => app.close())
  const client = new Client(app)
  await client.post('/setup/token', { token: app.amorce.setup!.token })
  await walkToSummary(client, dir, { provider: 'postgresql', host: '127.0.0.1', port: String(proxy.port), user: db.user, password: db.password, database: db.database, tls: 'off' })

  proxy.mode = 'silent'
  // No deadline of the test's own: the install must end by itself (the connect timeout bounds it).
  const failed = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(failed.body, /data-stage="migrate" data-status="failed"/)
  const message = text(failed).match(/<p class="error" role="alert">([^<]*)/)?.[1] ?? ''
  assert.match(message, /^The database could not be reached: .*timeout/, `the cause is named: ${message}`)
  assert.equal(app.amorce.mode, 'setup')

  // The server answers again: Install from the summary completes.
  proxy.mode = 'forward'
  assert.equal((await client.get('/setup/finalize')).statusCode, 200)
  const retry = await client.post('/setup/finalize', { _action: 'install' })
  assert.match(retry.body, /install-done/, retry.body.slice(-600))
  assert.equal(app.amorce.mode, 'normal')
})
