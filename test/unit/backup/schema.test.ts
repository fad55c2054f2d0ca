// The expected schema of a backup comes from the app's migrations (applied to a scratch SQLite and introspected),
// agrees with Prisma's own data model of the app, follows older migration levels, and takes a host app's
// migrations as input; the target engine's limits come from its own migrations.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { schemaFromMigrations } from '../../../server/backup/schema.ts'
import { listLocalMigrations, type LocalMigration } from '../../../server/db/migrate.ts'
import { Prisma } from '../../../server/db/generated/sqlite/client.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { engineOf } from '../../../server/db/engines/index.ts'

const sqlite = await listLocalMigrations('sqlite', { migrationsDir: referenceSchema.migrationsDir('sqlite') })

test('at the latest level, the tables and columns are those of the generated client’s data model', async () => {
  const tables = await schemaFromMigrations(sqlite)
  assert.deepEqual(tables.map(t => t.name).sort(), Object.values(Prisma.ModelName).sort())
  // The generated client's runtime data model: the scalar fields and their Prisma types.
  const source = await readFile(new URL('../../../server/db/generated/sqlite/internal/class.ts', import.meta.url), 'utf8')
  const model = JSON.parse(JSON.parse(source.match(/config\.runtimeDataModel = JSON\.parse\(("(?:[^"\\]|\\.)*")\)/)![1])) as { models: Record<string, { fields: Array<{ name: string, kind: string, type: string }> }> }
  for (const table of tables) {
    const scalars = model.models[table.name].fields.filter(f => f.kind === 'scalar').map(f => [f.name, f.type])
    assert.deepEqual(table.columns.map(c => [c.name, c.type]), scalars, table.name)
    const fieldEnum = (Prisma as unknown as Record<string, Record<string, string>>)[`${table.name}ScalarFieldEnum`]
    assert.deepEqual(table.columns.map(c => c.name), Object.values(fieldEnum), table.name)
  }
  const admin = tables.find(t => t.name === 'AdminUser')!
  assert.deepEqual(admin.key, ['id'])
  assert.deepEqual(admin.columns.find(c => c.name === 'id'), { name: 'id', type: 'Int', nullable: false, autoincrement: true })
  assert.equal(admin.columns.find(c => c.name === 'lastLoginAt')!.nullable, true)
  assert.deepEqual(admin.uniques!.map(u => u.join()).sort(), ['email', 'id', 'username'])
  const audit = tables.find(t => t.name === 'AuditLog')!
  assert.deepEqual(audit.foreignKeys, [{ columns: ['actorId'], table: 'AdminUser', references: ['id'] }])
  assert.ok(tables.findIndex(t => t.name === 'AdminUser') < tables.findIndex(t => t.name === 'AuditLog'), 'referenced tables first')
  assert.ok(!tables.some(t => t.name.startsWith('sqlite_') || t.name === '_prisma_migrations'))
})

// A host app's history, given as input: a model, then a column added, a table added, a unique index.
const host: LocalMigration[] = [
  { name: '20260101000000_init', checksum: '', sql: 'CREATE TABLE "Note" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "title" TEXT NOT NULL);' },
  { name: '20260201000000_more', checksum: '', sql: 'ALTER TABLE "Note" ADD COLUMN "body" TEXT;\nCREATE TABLE "Tag" ("name" TEXT NOT NULL PRIMARY KEY, "noteId" INTEGER NOT NULL, "weight" REAL, "data" JSONB, "raw" BLOB, "at" DATETIME NOT NULL, "big" BIGINT, "price" DECIMAL, "on" BOOLEAN NOT NULL DEFAULT true, CONSTRAINT "Tag_noteId_fkey" FOREIGN KEY ("noteId") REFERENCES "Note" ("id") ON DELETE CASCADE);\nCREATE UNIQUE INDEX "Note_title_key" ON "Note"("title");' }
]

test('an older level has only what its migrations created; a host app’s migrations serve as well', async () => {
  const first = await schemaFromMigrations(host, '20260101000000_init')
  assert.deepEqual(first.map(t => [t.name, t.columns.map(c => c.name)]), [['Note', ['id', 'title']]])
  const second = await schemaFromMigrations(host)
  assert.deepEqual(second.map(t => t.name), ['Note', 'Tag'])
  assert.deepEqual(second[0].columns.map(c => c.name), ['id', 'title', 'body'])
  assert.deepEqual(second[0].uniques, [['id'], ['title']])
  assert.deepEqual(second[1].columns.map(c => c.type), ['String', 'Int', 'Float', 'Json', 'Bytes', 'DateTime', 'BigInt', 'Decimal', 'Boolean'])
  assert.deepEqual(second[1].references, ['Note'])
})

test('target limits: MySQL’s declared VARCHAR(n) and TEXT from its own migrations; PostgreSQL’s NUL and index limits', async () => {
  const tables = await schemaFromMigrations(sqlite)
  const mysql = engineOf('mysql').backup.limits(tables, await listLocalMigrations('mysql', { migrationsDir: referenceSchema.migrationsDir('mysql') }))
  assert.equal(mysql.get('AdminUser.username')!.maxChars, 191)
  const hostTables = await schemaFromMigrations(host)
  const hostMysql: LocalMigration[] = [{ name: '20260101000000_init', checksum: '', sql: 'CREATE TABLE `Note` (\n    `id` INTEGER NOT NULL AUTO_INCREMENT,\n    `title` VARCHAR(80) NOT NULL,\n    PRIMARY KEY (`id`)\n);\n' }, { name: '20260201000000_more', checksum: '', sql: 'ALTER TABLE `Note` ADD COLUMN `body` TEXT NULL;\n' }]
  const limits = engineOf('mysql').backup.limits(hostTables, hostMysql)
  assert.equal(limits.get('Note.title')!.maxChars, 80)
  assert.equal(limits.get('Note.body')!.maxBytes, 65_535)
  const pg = engineOf('postgresql').backup.limits(tables)
  assert.equal(pg.get('AdminUser.username')!.noNul, true)
  assert.equal(pg.get('AdminUser.username')!.maxBytes, 2700, 'an indexed text column')
  assert.equal(pg.get('Setting.value')!.maxBytes, undefined, 'not indexed: no B-tree limit')
})
