// Tests the migration runner on SQLite: applying, bookkeeping like Prisma, progress, refusals (edited, failed), upTo, locks.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { createClient, type Client } from '@libsql/client'
import { checksumMatches, compareHistory, listLocalMigrations, migrate, MigrationError, migrationStatus, MIGRATIONS_TABLE_DDL, sqliteFilePath, type MigrationErrorCode, type MigrationProgress } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { referenceSchema } from '../../../server/reference.ts'

interface Fixture { dir: string; url: string; migrationsDir: string; init: string }

/** A temporary database and a temporary copy of the real SQLite migrations, which tests may extend or damage. */
async function fixture (t: TestContext): Promise<Fixture> {
  const dir = await tempDir(t, 'amorce-migrate-')
  const migrationsDir = path.join(dir, 'migrations')
  await cp(referenceSchema.migrationsDir('sqlite'), migrationsDir, { recursive: true })
  const [first] = await listLocalMigrations('sqlite', { migrationsDir })
  assert.ok(first, 'the repository ships at least the init migration')
  return { dir, url: `file:${path.join(dir, 'app.db')}`, migrationsDir, init: first.name }
}

/** Later migrations sort after the real ones (year 3000). */
async function addMigration (fx: Fixture, name: string, sql: string): Promise<void> {
  await mkdir(path.join(fx.migrationsDir, name), { recursive: true })
  await writeFile(path.join(fx.migrationsDir, name, 'migration.sql'), sql)
}

function open (t: TestContext, url: string): Client {
  const client = createClient({ url, intMode: 'number' })
  t.after(() => client.close())
  return client
}

async function tables (db: Client): Promise<string[]> {
  const rs = await db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
  return rs.rows.map(row => String(row.name))
}

async function records (db: Client) {
  const rs = await db.execute('SELECT * FROM "_prisma_migrations" ORDER BY started_at')
  return rs.rows
}

function rejectsWith (code: MigrationErrorCode, check?: (err: MigrationError) => void) {
  return (err: unknown) => {
    assert.ok(err instanceof MigrationError, `expected a MigrationError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    check?.(err)
    return true
  }
}

test('a fresh SQLite database gets every model table and Prisma-shaped bookkeeping', async (t) => {
  const fx = await fixture(t)
  const result = await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  assert.deepEqual(result, { applied: [fx.init], alreadyApplied: [] })

  const db = open(t, fx.url)
  assert.deepEqual(await tables(db), ['AdminUser', 'AuditLog', 'Setting', '_prisma_migrations'])
  const [row, ...others] = await records(db)
  assert.equal(others.length, 0)
  const bytes = await readFile(path.join(fx.migrationsDir, fx.init, 'migration.sql'))
  assert.match(String(row.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.equal(row.checksum, createHash('sha256').update(bytes).digest('hex'))
  assert.equal(row.migration_name, fx.init)
  assert.equal(row.logs, null)
  assert.equal(row.rolled_back_at, null)
  assert.equal(row.applied_steps_count, 1)
  // Prisma's own engine writes RFC 3339 with milliseconds and an offset through the libsql adapter.
  assert.match(String(row.started_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/)
  assert.match(String(row.finished_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/)
  assert.ok(String(row.finished_at) >= String(row.started_at))
})

test('a second run applies nothing', async (t) => {
  const fx = await fixture(t)
  await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  const events: MigrationProgress[] = []
  const again = await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir, onProgress: p => events.push(p) })
  assert.deepEqual(again, { applied: [], alreadyApplied: [fx.init] })
  assert.deepEqual(events, [])
  assert.equal((await records(open(t, fx.url))).length, 1)
  assert.deepEqual(await migrationStatus({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir }),
    { applied: [fx.init], pending: [], failed: [], modified: [], missingLocally: [] })
})

test('progress reports each migration as applying, then applied', async (t) => {
  const fx = await fixture(t)
  await addMigration(fx, '30000101000000_notes', 'CREATE TABLE "Note" ("id" INTEGER NOT NULL PRIMARY KEY);\n')
  await addMigration(fx, '30000102000000_tags', 'CREATE TABLE "Tag" ("id" INTEGER NOT NULL PRIMARY KEY);\n')
  const events: MigrationProgress[] = []
  const result = await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir, onProgress: p => events.push(p) })
  const names = [fx.init, '30000101000000_notes', '30000102000000_tags']
  assert.deepEqual(result.applied, names)
  assert.deepEqual(events, names.flatMap((name, index) => [
    { name, index, total: 3, status: 'applying' },
    { name, index, total: 3, status: 'applied' }
  ]))
})

test('the status lists pending migrations before a run, and none after', async (t) => {
  const fx = await fixture(t)
  const before = await migrationStatus({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  assert.deepEqual(before, { applied: [], pending: [fx.init], failed: [], modified: [], missingLocally: [] })
  assert.equal(existsSync(sqliteFilePath(fx.url)), false, 'a status does not create the database')
})

test('an applied migration edited afterwards is reported and blocks the run', async (t) => {
  const fx = await fixture(t)
  await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  await writeFile(path.join(fx.migrationsDir, fx.init, 'migration.sql'), '-- edited\n' + await readFile(path.join(fx.migrationsDir, fx.init, 'migration.sql'), 'utf8'))
  await addMigration(fx, '30000101000000_notes', 'CREATE TABLE "Note" ("id" INTEGER NOT NULL PRIMARY KEY);\n')

  const status = await migrationStatus({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  assert.deepEqual(status.modified, [fx.init])
  assert.deepEqual(status.pending, ['30000101000000_notes'])
  await assert.rejects(migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir }),
    rejectsWith('checksumMismatch', err => { assert.deepEqual(err.migrations, [fx.init]); assert.equal(err.migration, fx.init) }))
  assert.ok(!(await tables(open(t, fx.url))).includes('Note'), 'nothing was applied after the refusal')
})

test('line-ending changes (git autocrlf) are not edits, as for Prisma', () => {
  const sql = 'CREATE TABLE "A" ("id" INTEGER);\nCREATE TABLE "B" ("id" INTEGER);\n'
  const checksum = createHash('sha256').update(sql).digest('hex')
  assert.ok(checksumMatches(sql, checksum))
  assert.ok(checksumMatches(sql.replaceAll('\n', '\r\n'), checksum))
  assert.ok(!checksumMatches(sql.replace('"B"', '"C"'), checksum))
  // Early Prisma engines stored the digest without zero-padding each byte.
  const unpadded = [...createHash('sha256').update(sql).digest()].map(b => b.toString(16)).join('')
  if (unpadded.length !== 64) assert.ok(checksumMatches(sql, unpadded))
})

test('a failing migration is rolled back, recorded like Prisma, and blocks the next run', async (t) => {
  const fx = await fixture(t)
  const bad = '30000101000000_broken'
  await addMigration(fx, bad, 'CREATE TABLE "Half" ("id" INTEGER NOT NULL PRIMARY KEY);\nCREATE TABLE "AdminUser" ("id" INTEGER);\n')
  await addMigration(fx, '30000102000000_after', 'CREATE TABLE "After" ("id" INTEGER NOT NULL PRIMARY KEY);\n')

  await assert.rejects(migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir }),
    rejectsWith('sqlError', err => assert.equal(err.migration, bad)))
  const db = open(t, fx.url)
  const tablesAfterFailure = await tables(db)
  assert.ok(!tablesAfterFailure.includes('Half'), 'the failed migration left nothing behind (one transaction)')
  assert.ok(!tablesAfterFailure.includes('After'), 'later migrations were not attempted')
  const failed = (await records(db)).find(row => row.migration_name === bad)
  assert.ok(failed, 'the failure is recorded')
  assert.equal(failed.finished_at, null)
  assert.equal(failed.rolled_back_at, null)
  assert.equal(failed.applied_steps_count, 0)
  assert.match(String(failed.logs), /table "?AdminUser"? already exists/)
  assert.match(String(failed.logs), new RegExp(`Migration name: ${bad}`))

  const status = await migrationStatus({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  assert.deepEqual({ failed: status.failed, pending: status.pending }, { failed: [bad], pending: ['30000102000000_after'] })
  await assert.rejects(migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir }),
    rejectsWith('failedMigration', err => assert.equal(err.migration, bad)))
  assert.equal((await records(db)).length, 2, 'the blocked run wrote nothing')
})

test('a failed migration marked rolled back (prisma migrate resolve) is pending again', async (t) => {
  const fx = await fixture(t)
  const name = '30000101000000_fixed_later'
  await addMigration(fx, name, 'CREATE TABLE "AdminUser" ("id" INTEGER);\n')
  await assert.rejects(migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir }), rejectsWith('sqlError'))
  const db = open(t, fx.url)
  await db.execute({ sql: 'UPDATE "_prisma_migrations" SET rolled_back_at = ? WHERE migration_name = ?', args: [new Date().toISOString(), name] })
  await writeFile(path.join(fx.migrationsDir, name, 'migration.sql'), 'CREATE TABLE "Fixed" ("id" INTEGER);\n')
  assert.deepEqual(await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir }), { applied: [name], alreadyApplied: [fx.init] })
})

test('upTo applies migrations up to and including the named one', async (t) => {
  const fx = await fixture(t)
  await addMigration(fx, '30000101000000_notes', 'CREATE TABLE "Note" ("id" INTEGER NOT NULL PRIMARY KEY);\n')
  await addMigration(fx, '30000102000000_tags', 'CREATE TABLE "Tag" ("id" INTEGER NOT NULL PRIMARY KEY);\n')
  const first = await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir, upTo: '30000101000000_notes' })
  assert.deepEqual(first, { applied: [fx.init, '30000101000000_notes'], alreadyApplied: [] })
  assert.ok(!(await tables(open(t, fx.url))).includes('Tag'))
  const rest = await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  assert.deepEqual(rest, { applied: ['30000102000000_tags'], alreadyApplied: [fx.init, '30000101000000_notes'] })
  await assert.rejects(migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir, upTo: 'nope' }),
    rejectsWith('unknownMigration', err => assert.equal(err.migration, 'nope')))
})

test('an applied migration missing from the local directory is reported', async (t) => {
  const fx = await fixture(t)
  await addMigration(fx, '30000101000000_notes', 'CREATE TABLE "Note" ("id" INTEGER NOT NULL PRIMARY KEY);\n')
  await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  const older = path.join(fx.dir, 'older-code')
  await cp(referenceSchema.migrationsDir('sqlite'), older, { recursive: true })
  const status = await migrationStatus({ provider: 'sqlite', url: fx.url, migrationsDir: older })
  assert.deepEqual(status, { applied: [fx.init, '30000101000000_notes'], pending: [], failed: [], modified: [], missingLocally: ['30000101000000_notes'] })
})

test('_prisma_migrations is created with the DDL of Prisma\'s schema engine', async (t) => {
  // The installed engine binary holds its CREATE TABLE statements as plain text: ours must be the same bytes.
  const require = createRequire(import.meta.url)
  const engine = await readFile(path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm')), 'schema_engine_bg.wasm'))
  for (const provider of ['sqlite', 'postgresql'] as const) {
    assert.ok(engine.includes(Buffer.from(MIGRATIONS_TABLE_DDL[provider])), `${provider} DDL differs from Prisma's`)
  }
  const fx = await fixture(t)
  await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  const rs = await open(t, fx.url).execute("SELECT sql FROM sqlite_master WHERE name = '_prisma_migrations'")
  assert.equal(`${String(rs.rows[0]?.sql)};\n`, MIGRATIONS_TABLE_DDL.sqlite)
})

test('a table-redefining migration does not fire ON DELETE actions on referencing rows', async (t) => {
  // Prisma's SQLite scripts rebuild a table (copy, DROP, rename) under PRAGMA foreign_keys=OFF, which is a no-op
  // inside a transaction: the runner must have enforcement off already, or dropping AdminUser would null actorId.
  const fx = await fixture(t)
  await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  const db = open(t, fx.url)
  await db.execute(`INSERT INTO "AdminUser" (id, username, email, passwordHash, updatedAt) VALUES (1, 'ada', 'ada@example.org', 'x', '2024-01-01')`)
  await db.execute(`INSERT INTO "AuditLog" (event, actorId) VALUES ('login', 1)`)
  await addMigration(fx, '30000101000000_redefine_admin', [
    'PRAGMA defer_foreign_keys=ON;',
    'PRAGMA foreign_keys=OFF;',
    'CREATE TABLE "new_AdminUser" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "username" TEXT NOT NULL, "email" TEXT NOT NULL, "passwordHash" TEXT NOT NULL, "locale" TEXT NOT NULL DEFAULT \'en\', "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" DATETIME NOT NULL, "lastLoginAt" DATETIME, "timezone" TEXT);',
    'INSERT INTO "new_AdminUser" ("id", "username", "email", "passwordHash", "locale", "createdAt", "updatedAt", "lastLoginAt") SELECT "id", "username", "email", "passwordHash", "locale", "createdAt", "updatedAt", "lastLoginAt" FROM "AdminUser";',
    'DROP TABLE "AdminUser";',
    'ALTER TABLE "new_AdminUser" RENAME TO "AdminUser";',
    'PRAGMA foreign_keys=ON;',
    'PRAGMA defer_foreign_keys=OFF;',
    ''
  ].join('\n'))
  await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })
  const rs = await db.execute('SELECT actorId FROM "AuditLog"')
  assert.deepEqual(rs.rows.map(row => row.actorId), [1])
})

test('a database with tables but no _prisma_migrations is refused', async (t) => {
  const fx = await fixture(t)
  await open(t, fx.url).execute('CREATE TABLE "Foreign" ("id" INTEGER)')
  await assert.rejects(migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir }), rejectsWith('schemaNotEmpty'))
})

test('another writer holding the database makes the run time out with lockTimeout', async (t) => {
  const fx = await fixture(t)
  const other = open(t, fx.url)
  const tx = await other.transaction('write')
  t.after(() => tx.close())
  const started = Date.now()
  await assert.rejects(migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir, lockTimeoutMs: 200 }), rejectsWith('lockTimeout'))
  assert.ok(Date.now() - started >= 150, 'it waited for the lock before giving up')
  await tx.rollback()
  assert.deepEqual((await migrate({ provider: 'sqlite', url: fx.url, migrationsDir: fx.migrationsDir })).applied, [fx.init])
})

test('unknown providers and URLs that do not match the provider are refused', async (t) => {
  const fx = await fixture(t)
  await assert.rejects(migrate({ provider: 'mysql', url: 'postgresql://root@127.0.0.1:3306/x', migrationsDir: path.join(fx.dir, 'none') }), rejectsWith('invalidUrl'))
  await assert.rejects(migrate({ provider: 'postgresql', url: 'not a url', migrationsDir: path.join(fx.dir, 'none') }), rejectsWith('invalidUrl'))
  await assert.rejects(migrate({ provider: 'oracle' as never, url: 'x', migrationsDir: 'x' }), rejectsWith('unknownProvider'))
})

test('a migrations directory for another provider is refused', async (t) => {
  const fx = await fixture(t)
  await assert.rejects(listLocalMigrations('postgresql', { migrationsDir: fx.migrationsDir }), rejectsWith('invalidMigrations'))
})

test('local migrations are listed in lexical order with the checksum of their bytes', async (t) => {
  const fx = await fixture(t)
  await addMigration(fx, '30000102000000_b', 'SELECT 2;\n')
  await addMigration(fx, '30000101000000_a', 'SELECT 1;\r\n')
  await writeFile(path.join(fx.migrationsDir, 'README.md'), 'not a migration')
  const local = await listLocalMigrations('sqlite', { migrationsDir: fx.migrationsDir })
  assert.deepEqual(local.map(m => m.name), [fx.init, '30000101000000_a', '30000102000000_b'])
  assert.equal(local[1]?.checksum, createHash('sha256').update('SELECT 1;\r\n').digest('hex'))
  assert.equal(local[1]?.sql, 'SELECT 1;\r\n')
})

test('SQLite URLs: Prisma-style absolute, relative to the working directory, or file:// URLs', () => {
  assert.equal(sqliteFilePath('file:/var/lib/amorce/app.db'), '/var/lib/amorce/app.db')
  assert.equal(sqliteFilePath('file:./data/app.db'), path.resolve('data/app.db'))
  assert.equal(sqliteFilePath('file:///var/lib/amorce/app%20x.db'), '/var/lib/amorce/app x.db')
  assert.equal(sqliteFilePath('file:/var/app.db?connection_limit=1'), '/var/app.db')
  assert.throws(() => sqliteFilePath('file::memory:'), rejectsWith('invalidUrl'))
})

test('history comparison ignores rolled-back rows and keeps failed ones out of pending', () => {
  const local = [{ name: 'a', sql: 'A', checksum: '' }, { name: 'b', sql: 'B', checksum: '' }, { name: 'c', sql: 'C', checksum: '' }]
  const sum = (s: string) => createHash('sha256').update(s).digest('hex')
  const row = (name: string, sql: string, finished: boolean, rolledBack = false) => ({
    id: name, checksum: sum(sql), migrationName: name, startedAt: new Date(), finishedAt: finished ? new Date() : null,
    rolledBackAt: rolledBack ? new Date() : null, logs: null, appliedStepsCount: finished ? 1 : 0
  })
  assert.deepEqual(compareHistory(local, [row('a', 'A', true), row('b', 'B', false, true), row('c', 'C', false), row('z', 'Z', true)]), {
    applied: ['a', 'z'], pending: ['b'], failed: ['c'], modified: [], missingLocally: ['z']
  })
})
