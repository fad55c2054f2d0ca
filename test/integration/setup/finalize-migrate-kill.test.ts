// SIGKILL inside a migration's own transaction (PostgreSQL, where a migration can be made slow):
// the killed migration leaves nothing behind, the ones before it stay applied once, and the next
// run (the install's retry or resume) applies the rest exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import pg from 'pg'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { migrate } from '../../../server/db/migrate.ts'
import { adminQuery, createDatabase, requireServer, urlOf } from '../../helpers/databases.ts'
import { repoRoot, TSX } from '../../helpers/server.ts'
import { tempDir } from '../../helpers/tmp.ts'

/** An advisory lock the test holds: the slow migration waits on it, halfway through, for as long as the test wants. */
const GATE = 4242
const MIGRATIONS = {
  '20260101000000_first': 'CREATE TABLE "first_table" ("id" SERIAL PRIMARY KEY);\n',
  // Stopped halfway on purpose: the test kills the runner while this transaction is open.
  '20260102000000_slow': `CREATE TABLE "half_table" ("id" SERIAL PRIMARY KEY);\nSELECT pg_advisory_xact_lock(${GATE});\nCREATE TABLE "second_table" ("id" SERIAL PRIMARY KEY);\n`
}

test('SIGKILL in the middle of a migration: rolled back entirely, applied once on the next run', { timeout: 90_000 }, async t => {
  if (!await requireServer(t, 'postgresql')) return
  const db = await createDatabase(t, 'postgresql')
  const url = urlOf(db)
  const dir = await tempDir(t)
  const migrationsDir = path.join(dir, 'migrations')
  for (const [name, sql] of Object.entries(MIGRATIONS)) {
    await mkdir(path.join(migrationsDir, name), { recursive: true })
    await writeFile(path.join(migrationsDir, name, 'migration.sql'), sql)
  }
  await writeFile(path.join(migrationsDir, 'migration_lock.toml'), 'provider = "postgresql"\n')
  const gate = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.database })
  gate.on('error', () => {})
  await gate.connect()
  t.after(() => gate.end().catch(() => {}))
  await gate.query(`SELECT pg_advisory_lock(${GATE})`)
  const gatePid = Number((await gate.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)

  // The runner in its own process, as the server runs it.
  const script = `import { migrate } from ${JSON.stringify(path.join(repoRoot, 'server/db/migrate.ts'))}
await migrate({ provider: 'postgresql', url: process.env.URL, migrationsDir: process.env.DIR, onProgress: p => console.log(p.status, p.name) })`
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], { env: { ...process.env, URL: url, DIR: migrationsDir }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { out += d })
  const exited = new Promise(resolve => child.once('exit', resolve))

  // Wait until the slow migration is halfway, inside the database (waiting at the gate), then kill the process.
  const until = Date.now() + 60_000
  for (;;) {
    const rows = await adminQuery('postgresql', `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ${GATE} AND NOT granted`, db.database) as Array<Array<{ n: number }>>
    if (rows[0][0].n > 0) break
    if (child.exitCode !== null || Date.now() > until) throw new Error(`the slow migration never started:\n${out}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  assert.match(out, /applied 20260101000000_first/)
  child.kill('SIGKILL')
  await exited

  // The database has not noticed yet: its session still runs the migration and holds the runners'
  // lock, so a retry now is told to wait (the wizard says "another instance is preparing this
  // database. Wait a moment, then try again") rather than interleaving with it.
  await assert.rejects(migrate({ provider: 'postgresql', url, migrationsDir, lockTimeoutMs: 500 }), { code: 'lockTimeout' })
  // Once the statement ends (the gate opens), the server finds the client gone and rolls the transaction back.
  await gate.query(`SELECT pg_advisory_unlock(${GATE})`)
  const busy = async () => ((await adminQuery('postgresql', `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> ${gatePid}`, db.database)) as Array<Array<{ n: number }>>)[0][0].n
  for (const end = Date.now() + 60_000; Date.now() < end && await busy() > 0;) await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(await busy(), 0, 'the orphaned session ended')
  const facts = async () => {
    const [tables] = await adminQuery('postgresql', "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", db.database) as Array<Array<{ tablename: string }>>
    const [rows] = await adminQuery('postgresql', 'SELECT migration_name, finished_at IS NOT NULL AS finished FROM _prisma_migrations ORDER BY migration_name', db.database) as Array<Array<{ migration_name: string, finished: boolean }>>
    return { tables: tables.map(r => r.tablename), rows }
  }
  const after = await facts()
  assert.deepEqual(after.tables, ['_prisma_migrations', 'first_table'], 'nothing of the killed migration remains')
  assert.deepEqual(after.rows, [{ migration_name: '20260101000000_first', finished: true }])

  // The next run, with the same files, applies the rest once.
  const result = await migrate({ provider: 'postgresql', url, migrationsDir })
  assert.deepEqual(result.applied, ['20260102000000_slow'])
  assert.deepEqual(result.alreadyApplied, ['20260101000000_first'])
  const final = await facts()
  assert.deepEqual(final.tables, ['_prisma_migrations', 'first_table', 'half_table', 'second_table'])
  assert.equal(final.rows.filter(r => r.finished).length, 2)
})
