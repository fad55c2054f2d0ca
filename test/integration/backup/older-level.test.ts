// A backup taken at an older migration level restores into the current schema: the database is migrated up to
// the backup's level, the rows are loaded, then the later migrations run over the restored rows.
import assert from 'node:assert/strict'
import { createWriteStream } from 'node:fs'
import { cp, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { createClient } from '@libsql/client'
import { createBackup } from '../../../server/backup/create.ts'
import { backupLimits } from '../../../server/backup/format.ts'
import { restoreBackup } from '../../../server/backup/restore.ts'
import { listLocalMigrations } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { emptyDatabase, logicalDump, seed } from './fixtures.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

const LATER = '29991231000000_setting_note'

test('a backup taken at an older migration level restores into the current schema, later migrations applied over the rows', async t => {
  // The backup: made by this app at its own level (its last migration), which is the older level below.
  const source = (await emptyDatabase(t, 'sqlite'))!
  await seed('sqlite', source)
  const file = path.join(await tempDir(t), 'backup.tar.gz')
  const manifest = await createBackup(createWriteStream(file), { schema: referenceSchema, provider: 'sqlite', url: source })
  const [current] = (await listLocalMigrations('sqlite', { migrationsDir: referenceSchema.migrationsDir('sqlite') })).slice(-1)
  assert.equal(manifest.migration, current.name)

  // A later version of the app: the same history plus one migration that changes a table and rewrites its rows.
  const migrationsDir = path.join(await tempDir(t), 'migrations')
  await cp(referenceSchema.migrationsDir('sqlite'), migrationsDir, { recursive: true })
  await mkdir(path.join(migrationsDir, LATER))
  await writeFile(path.join(migrationsDir, LATER, 'migration.sql'),
    'ALTER TABLE "Setting" ADD COLUMN "note" TEXT NOT NULL DEFAULT \'\';\nUPDATE "Setting" SET "note" = \'migrated:\' || "key";\n')

  const target = (await emptyDatabase(t, 'sqlite'))!
  const applied: string[] = []
  const summary = await restoreBackup({ schema: { ...referenceSchema, migrationsDir: () => migrationsDir }, admin: adminStore, file, provider: 'sqlite', url: target, limits: backupLimits({}), onMigration: p => { if (p.status === 'applied') applied.push(p.name) } })
  assert.equal(summary.migration, current.name)
  // First run: up to the backup's level; second run: the later migration, after the rows were loaded.
  assert.deepEqual(applied, [...(await listLocalMigrations('sqlite', { migrationsDir: referenceSchema.migrationsDir('sqlite') })).map(m => m.name), LATER])

  const db = createClient({ url: target })
  t.after(() => db.close())
  const levels = (await db.execute('SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY migration_name')).rows.map(r => r.migration_name)
  assert.deepEqual(levels, applied)
  const settings = (await db.execute('SELECT "key", "note" FROM "Setting" ORDER BY "key"')).rows.map(r => ({ ...r }))
  assert.ok(settings.length > 0, 'the sample holds settings')
  // The later migration saw the restored rows: it ran after the load, not before.
  for (const row of settings) assert.equal(row.note, `migrated:${row.key}`)

  // Every other value is the backup's own.
  const original = await logicalDump('sqlite', source)
  const restored = await logicalDump('sqlite', target)
  for (const table of Object.keys(original)) assert.deepEqual(restored[table], original[table], table)
})

test('a backup at a level this app does not have yet is refused before anything is written', async t => {
  const source = (await emptyDatabase(t, 'sqlite'))!
  await seed('sqlite', source)
  const file = path.join(await tempDir(t), 'backup.tar.gz')
  await createBackup(createWriteStream(file), { schema: referenceSchema, provider: 'sqlite', url: source })
  // An older app: its history stops before the backup's level.
  const migrationsDir = path.join(await tempDir(t), 'migrations')
  await mkdir(migrationsDir)
  await cp(path.join(referenceSchema.migrationsDir('sqlite'), 'migration_lock.toml'), path.join(migrationsDir, 'migration_lock.toml'))
  await cp(path.join(referenceSchema.migrationsDir('sqlite'), '20261121233927_init'), path.join(migrationsDir, '00000000000000_older'), { recursive: true })
  const target = (await emptyDatabase(t, 'sqlite'))!
  await assert.rejects(restoreBackup({ schema: { ...referenceSchema, migrationsDir: () => migrationsDir }, admin: adminStore, file, provider: 'sqlite', url: target, limits: backupLimits({}) }), { code: 'newerMigration' })
  const { stat } = await import('node:fs/promises')
  assert.equal(await stat(new URL(target).pathname).then(() => true, () => false), false, 'no database file was created')
})
