// `amorce migrate status|deploy`: the runner's view of the database, and pending migrations applied under the
// lock after a backup of the database at its older level (which restores), or without one (--no-backup).
import assert from 'node:assert/strict'
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { createClient } from '@libsql/client'
import { backupLimits } from '../../../server/backup/format.ts'
import { restoreBackup } from '../../../server/backup/restore.ts'
import { migrate, type Provider } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { emptyDatabase, logicalDump, seed } from '../backup/fixtures.ts'
import { runCli } from './run.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

const INIT = '20261121233927_init'
const LATER = '29991231000000_setting_note'

function envOf (dir: string): NodeJS.ProcessEnv {
  return { ENV_FILE: path.join(dir, '.env'), DATA_DIR: path.join(dir, 'data') }
}

/** A later version of the app: the same history plus one migration that changes a table and its rows. */
async function laterMigrations (dir: string): Promise<string> {
  const migrationsDir = path.join(dir, 'migrations')
  await cp(referenceSchema.migrationsDir('sqlite'), migrationsDir, { recursive: true })
  await mkdir(path.join(migrationsDir, LATER))
  await writeFile(path.join(migrationsDir, LATER, 'migration.sql'), 'ALTER TABLE "Setting" ADD COLUMN "note" TEXT NOT NULL DEFAULT \'\';\nUPDATE "Setting" SET "note" = \'migrated:\' || "key";\n')
  return migrationsDir
}

for (const provider of ['sqlite', 'postgresql'] as Provider[]) {
  test(`migrate status lists pending migrations (exit 1), deploy applies them, then status is clean (exit 0) on ${provider}`, async t => {
    const url = await emptyDatabase(t, provider)
    if (!url) return
    const dir = await tempDir(t)
    await writeFile(path.join(dir, '.env'), `DATABASE_PROVIDER=${provider}\nDATABASE_URL=${url}\n`)
    const before = await runCli(['migrate', 'status'], envOf(dir), dir)
    assert.equal(before.code, 1, before.all)
    assert.match(before.out, new RegExp(`^Pending \\(1\\): ${INIT}$`, 'm'))
    assert.match(before.out, /Migrations are pending: amorce migrate deploy applies them\./)
    const deploy = await runCli(['migrate', 'deploy'], envOf(dir), dir)
    assert.equal(deploy.code, 0, deploy.all)
    // Nothing applied before: nothing to back up.
    assert.doesNotMatch(deploy.out, /Backup written/)
    assert.match(deploy.out, new RegExp(`Applied ${INIT} \\(1/1\\)\\n1 migration applied\\.`))
    const after = await runCli(['migrate', 'status'], envOf(dir), dir)
    assert.equal(after.code, 0, after.all)
    assert.match(after.out, new RegExp(`^Applied \\(1\\): ${INIT}$`, 'm'))
    assert.match(after.out, /The database is up to date\./)
    assert.equal((await runCli(['migrate', 'deploy'], envOf(dir), dir)).out.trim(), 'The database is up to date.')
  })
}

test('deploy writes a backup of the older level first; that backup restores; --no-backup skips it', async t => {
  const dir = await tempDir(t)
  const url = `file:${path.join(dir, 'data', 'app.db')}`
  await mkdir(path.join(dir, 'data'))
  await migrate({ provider: 'sqlite', migrationsDir: referenceSchema.migrationsDir('sqlite'), url })
  await seed('sqlite', url)
  const rows = await logicalDump('sqlite', url)
  await writeFile(path.join(dir, '.env'), `DATABASE_PROVIDER=sqlite\nDATABASE_URL=${url}\nAPP_INSTALLED_AT=2026-01-01T00:00:00.000Z\n`)
  const migrationsDir = await laterMigrations(dir)

  const status = await runCli(['migrate', 'status'], envOf(dir), dir, { migrationsDir })
  assert.equal(status.code, 1)
  assert.match(status.out, new RegExp(`^Pending \\(1\\): ${LATER}$`, 'm'))
  const deploy = await runCli(['migrate', 'deploy'], envOf(dir), dir, { migrationsDir })
  assert.equal(deploy.code, 0, deploy.all)
  const [backup] = await readdir(path.join(dir, 'data', 'backups'))
  assert.match(backup, /^before-migrate-\d{8}T\d{9}Z\.tar\.gz$/)
  assert.match(deploy.out, new RegExp(`^Backup written first: .*${backup.replace(/[.]/g, '\\.')}\\nApplied ${LATER} \\(1/1\\)`, 'm'))
  const db = createClient({ url })
  const notes = (await db.execute('SELECT "note" FROM "Setting" ORDER BY "key"')).rows.map(r => String(r.note))
  db.close()
  assert.ok(notes.length > 0 && notes.every(n => n.startsWith('migrated:')))

  // The backup holds the rows as they were, at the older level, and restores into the later version.
  const target = (await emptyDatabase(t, 'sqlite'))!
  const summary = await restoreBackup({ schema: { ...referenceSchema, migrationsDir: () => migrationsDir }, admin: adminStore, file: path.join(dir, 'data', 'backups', backup), provider: 'sqlite', url: target, limits: backupLimits({}) })
  assert.equal(summary.migration, INIT)
  assert.equal(summary.totalRows, Object.values(rows).reduce((n, r) => n + r.length, 0))

  // Another pending migration, deployed without a backup.
  await mkdir(path.join(migrationsDir, '29991231000001_more'))
  await writeFile(path.join(migrationsDir, '29991231000001_more', 'migration.sql'), 'CREATE TABLE "Extra" ("id" INTEGER PRIMARY KEY);\n')
  const bare = await runCli(['migrate', 'deploy', '--no-backup'], envOf(dir), dir, { migrationsDir })
  assert.equal(bare.code, 0, bare.all)
  assert.equal((await readdir(path.join(dir, 'data', 'backups'))).length, 1)
})

test('deploy refuses to run over a modified migration, and status names it (exit 1)', async t => {
  const dir = await tempDir(t)
  const url = `file:${path.join(dir, 'app.db')}`
  await migrate({ provider: 'sqlite', migrationsDir: referenceSchema.migrationsDir('sqlite'), url })
  const db = createClient({ url })
  await db.execute("UPDATE _prisma_migrations SET checksum = 'edited'")
  db.close()
  await writeFile(path.join(dir, '.env'), `DATABASE_PROVIDER=sqlite\nDATABASE_URL=${url}\n`)
  const migrationsDir = await laterMigrations(dir)
  const status = await runCli(['migrate', 'status'], envOf(dir), dir, { migrationsDir })
  assert.equal(status.code, 1)
  assert.match(status.out, new RegExp(`^Modified since applied: ${INIT}$`, 'm'))
  const deploy = await runCli(['migrate', 'deploy'], envOf(dir), dir, { migrationsDir })
  assert.equal(deploy.code, 1)
  assert.match(deploy.err, /No migration can be applied until the failed, modified or unknown ones are resolved/)
  const none = await tempDir(t)
  const unconfigured = await runCli(['migrate', 'status'], envOf(none), none)
  assert.equal(unconfigured.code, 1)
  assert.match(unconfigured.err, /No database is configured/)
})
