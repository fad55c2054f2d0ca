// The hand-written MySQL migrations are what Prisma would generate: information_schema after our runner matches the
// Prisma schema's models exactly (columns, types, nullability, defaults, indexes, foreign keys, charset, engine), and
// Prisma Client through @prisma/adapter-mariadb reads and writes every model. Plus the runner's MySQL lock and failures.
import assert from 'node:assert/strict'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import mariadb from 'mariadb'

import { listLocalMigrations, migrate, MigrationError, migrationStatus } from '../../../server/db/migrate.ts'
import { type ServerConnection } from '../../../server/db/url.ts'
import { createDatabase, requireServer } from '../../helpers/databases.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { buildDatabaseUrl } from '../../../server/db/engines/index.ts'
import { createPrismaClient } from '../../../server/reference.ts'
import { mariadbConfig } from '../../../server/db/engines/mysql.ts'
import { MYSQL_LOCK_NAME } from '../../../server/db/engines/mysql.ts'

// ---------------------------------------------------------------------------------------------
// What Prisma generates for MySQL, read from the Prisma schema

interface ModelField { name: string, type: string, optional: boolean, attributes: string }
interface Model { name: string, fields: ModelField[], blockAttributes: string[] }

const SCALARS = new Set(['String', 'Int', 'BigInt', 'Boolean', 'DateTime', 'Float', 'Decimal', 'Json', 'Bytes'])

/** Prisma's default MySQL column type for each scalar (no @db attribute in our models). */
const MYSQL_TYPES: Record<string, string> = {
  String: 'varchar(191)', Int: 'int', BigInt: 'bigint', Boolean: 'tinyint(1)', DateTime: 'datetime(3)',
  Float: 'double', Decimal: 'decimal(65,30)', Json: 'json', Bytes: 'longblob'
}

export function parseModels (schema: string): Model[] {
  const models: Model[] = []
  for (const [, name, body] of schema.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const fields: ModelField[] = []
    const blockAttributes: string[] = []
    for (const raw of body.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim()
      if (line === '') continue
      if (line.startsWith('@@')) { blockAttributes.push(line); continue }
      const m = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line)
      assert.ok(m, `cannot read the field line "${line}" of ${name}`)
      if (m[3]) continue // list side of a relation: no column
      fields.push({ name: m[1], type: m[2], optional: Boolean(m[4]), attributes: m[5] })
    }
    models.push({ name, fields, blockAttributes })
  }
  return models
}

function listArg (text: string, key: string): string[] {
  const m = new RegExp(`${key}:\\s*\\[([^\\]]*)\\]`).exec(text)
  return m ? m[1].split(',').map(s => s.trim()).filter(Boolean) : []
}

interface Expected {
  tables: Record<string, { engine: string, collation: string }>
  columns: string[]
  indexes: string[]
  foreignKeys: string[]
}

function expectedSchema (models: Model[]): Expected {
  const expected: Expected = { tables: {}, columns: [], indexes: [], foreignKeys: [] }
  for (const model of models) {
    expected.tables[model.name] = { engine: 'InnoDB', collation: 'utf8mb4_unicode_ci' }
    const explicitIndexes: string[][] = []
    for (const field of model.fields) {
      if (!SCALARS.has(field.type)) {
        // A relation: its foreign key, named <Model>_<fields>_fkey; Prisma's defaults for the actions.
        const fields = listArg(field.attributes, 'fields')
        const references = listArg(field.attributes, 'references')
        if (fields.length === 0) continue
        const onDelete = /onDelete:\s*(\w+)/.exec(field.attributes)?.[1] ?? (field.optional ? 'SetNull' : 'Restrict')
        const onUpdate = /onUpdate:\s*(\w+)/.exec(field.attributes)?.[1] ?? 'Cascade'
        const rule = (action: string) => ({ Cascade: 'CASCADE', Restrict: 'RESTRICT', NoAction: 'NO ACTION', SetNull: 'SET NULL', SetDefault: 'SET DEFAULT' }[action])
        expected.foreignKeys.push(`${model.name}_${fields.join('_')}_fkey ${model.name}(${fields.join(',')}) → ${field.type}(${references.join(',')}) delete=${rule(onDelete)} update=${rule(onUpdate)}`)
        // InnoDB indexes a foreign key's columns, under the constraint's name, unless an index already starts with them.
        expected.indexes.push(`${model.name}.${model.name}_${fields.join('_')}_fkey ${fields.join(',')} nonunique`)
        continue
      }
      const type = MYSQL_TYPES[field.type]
      assert.ok(type, `no MySQL type known for ${field.type}: add Prisma's default to this test`)
      const attrs = field.attributes
      let dflt = 'none'
      const dm = /@default\((.*?)\)(\s|$)/.exec(attrs + ' ')
      let extra = ''
      if (dm) {
        const value = dm[1]
        if (value === 'autoincrement()') extra = 'auto_increment'
        else if (value === 'now()') dflt = 'current_timestamp(3)'
        else if (/^".*"$/.test(value)) dflt = value.slice(1, -1)
        else dflt = value
      }
      const charset = field.type === 'String' ? ' utf8mb4_unicode_ci' : ''
      expected.columns.push(`${model.name}.${field.name} ${type}${charset} ${field.optional ? 'NULL' : 'NOT NULL'} default=${dflt}${extra ? ` ${extra}` : ''}`)
      if (/@id\b/.test(attrs)) expected.indexes.push(`${model.name}.PRIMARY ${field.name} unique`)
      if (/@unique\b/.test(attrs)) expected.indexes.push(`${model.name}.${model.name}_${field.name}_key ${field.name} unique`)
    }
    for (const attr of model.blockAttributes) {
      const kind = /^@@(\w+)\(\[([^\]]*)\]/.exec(attr)
      if (!kind) continue
      const columns = kind[2].split(',').map(s => s.trim())
      explicitIndexes.push(columns)
      if (kind[1] === 'index') expected.indexes.push(`${model.name}.${model.name}_${columns.join('_')}_idx ${columns.join(',')} nonunique`)
      if (kind[1] === 'unique') expected.indexes.push(`${model.name}.${model.name}_${columns.join('_')}_key ${columns.join(',')} unique`)
      if (kind[1] === 'id') expected.indexes.push(`${model.name}.PRIMARY ${columns.join(',')} unique`)
    }
  }
  for (const list of Object.values(expected)) if (Array.isArray(list)) list.sort()
  return expected
}

/** The same description, read from information_schema. */
async function actualSchema (conn: mariadb.Connection, database: string): Promise<Expected> {
  const actual: Expected = { tables: {}, columns: [], indexes: [], foreignKeys: [] }
  const tables = await conn.query('SELECT TABLE_NAME AS t, ENGINE AS e, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> ?', [database, '_prisma_migrations'])
  for (const row of tables) actual.tables[row.t] = { engine: row.e, collation: row.c }
  const columns = await conn.query(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS n, COLUMN_TYPE AS type, COLLATION_NAME AS coll, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS d, EXTRA AS extra' +
    ' FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> ?', [database, '_prisma_migrations'])
  for (const c of columns) {
    // Normalized across MySQL 8 and MariaDB: int(11) → int; 'en' / en → en; NULL / null → none; case of functions.
    const type = String(c.type).replace(/^(int|bigint)\(\d+\)/, '$1')
    let dflt = c.d === null || c.d === 'NULL' ? 'none' : String(c.d).replace(/^'(.*)'$/, '$1')
    if (/^current_timestamp/i.test(dflt)) dflt = dflt.toLowerCase()
    const extra = String(c.extra).toLowerCase().split(/\s+/).filter(word => word === 'auto_increment').join(' ')
    actual.columns.push(`${c.t}.${c.n} ${type}${c.coll ? ` ${c.coll}` : ''} ${c.nullable === 'YES' ? 'NULL' : 'NOT NULL'} default=${dflt}${extra ? ` ${extra}` : ''}`)
  }
  const indexes = await conn.query(
    'SELECT TABLE_NAME AS t, INDEX_NAME AS i, NON_UNIQUE AS nu, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols' +
    ' FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> ? GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE', [database, '_prisma_migrations'])
  for (const i of indexes) actual.indexes.push(`${i.t}.${i.i} ${i.cols} ${Number(i.nu) === 1 ? 'nonunique' : 'unique'}`)
  const fks = await conn.query(
    'SELECT k.CONSTRAINT_NAME AS n, k.TABLE_NAME AS t, GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS cols, k.REFERENCED_TABLE_NAME AS rt,' +
    ' GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS rcols, r.DELETE_RULE AS del, r.UPDATE_RULE AS upd' +
    ' FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r' +
    ' ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME' +
    ' WHERE k.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL GROUP BY k.CONSTRAINT_NAME, k.TABLE_NAME, k.REFERENCED_TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE', [database])
  for (const f of fks) actual.foreignKeys.push(`${f.n} ${f.t}(${f.cols}) → ${f.rt}(${f.rcols}) delete=${f.del} update=${f.upd}`)
  for (const list of Object.values(actual)) if (Array.isArray(list)) list.sort()
  return actual
}

async function connect (t: TestContext, c: ServerConnection): Promise<mariadb.Connection> {
  const conn = await mariadb.createConnection(mariadbConfig(c))
  t.after(() => conn.end())
  return conn
}

// ---------------------------------------------------------------------------------------------

test('mysql: information_schema after our migrations matches the Prisma schema\'s models exactly', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  await migrate({ provider: 'mysql', migrationsDir: referenceSchema.migrationsDir('mysql'), url: buildDatabaseUrl(db) })
  const models = parseModels(await readFile(path.join(referenceSchema.migrationsDir('mysql'), '..', 'schema.prisma'), 'utf8'))
  assert.deepEqual(models.map(m => m.name).sort(), ['AdminUser', 'AuditLog', 'Setting'])
  const expected = expectedSchema(models)
  const actual = await actualSchema(await connect(t, db), db.database)
  assert.deepEqual(actual.tables, expected.tables)
  assert.deepEqual(actual.columns, expected.columns)
  assert.deepEqual(actual.indexes, expected.indexes)
  assert.deepEqual(actual.foreignKeys, expected.foreignKeys)
})

test('mysql: the comparison fails on a difference (a column made nullable by hand is caught)', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  await migrate({ provider: 'mysql', migrationsDir: referenceSchema.migrationsDir('mysql'), url: buildDatabaseUrl(db) })
  const conn = await connect(t, db)
  await conn.query('ALTER TABLE `Setting` MODIFY `value` VARCHAR(191) NULL')
  const expected = expectedSchema(parseModels(await readFile(path.join(referenceSchema.migrationsDir('mysql'), '..', 'schema.prisma'), 'utf8')))
  assert.notDeepEqual((await actualSchema(conn, db.database)).columns, expected.columns)
})

test('mysql: Prisma Client through @prisma/adapter-mariadb creates, reads, updates and deletes every model', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  const url = buildDatabaseUrl(db)
  await migrate({ provider: 'mysql', migrationsDir: referenceSchema.migrationsDir('mysql'), url })
  const prisma = await createPrismaClient('mysql', url)
  t.after(() => prisma.$disconnect())

  const admin = await prisma.adminUser.create({ data: { username: 'admin', email: 'admin@example.com', passwordHash: '$argon2id$v=19$x' } })
  assert.equal(admin.locale, 'en', 'the column default applies')
  assert.ok(admin.createdAt instanceof Date && Math.abs(admin.createdAt.getTime() - Date.now()) < 60_000, 'createdAt is now, in UTC')
  assert.equal(admin.lastLoginAt, null)
  await assert.rejects(prisma.adminUser.create({ data: { username: 'admin', email: 'other@example.com', passwordHash: 'x' } }), /Unique constraint/i)
  const login = new Date('2026-01-02T03:04:05.678Z')
  const updated = await prisma.adminUser.update({ where: { id: admin.id }, data: { lastLoginAt: login, locale: 'fr' } })
  assert.equal(updated.lastLoginAt?.toISOString(), login.toISOString(), 'milliseconds survive DATETIME(3)')
  assert.ok(updated.updatedAt >= admin.updatedAt)

  await prisma.setting.create({ data: { key: 'site.name', value: 'Amorce é 🚀' } })
  assert.equal((await prisma.setting.findUnique({ where: { key: 'site.name' } }))?.value, 'Amorce é 🚀', 'utf8mb4 round trip')
  await prisma.setting.update({ where: { key: 'site.name' }, data: { value: 'Amorce' } })
  assert.equal((await prisma.setting.findMany()).length, 1)
  await prisma.setting.delete({ where: { key: 'site.name' } })
  assert.equal(await prisma.setting.count(), 0)

  const log = await prisma.auditLog.create({ data: { event: 'login', detail: '{"ip":"127.0.0.1"}', actorId: admin.id } })
  const withActor = await prisma.auditLog.findUnique({ where: { id: log.id }, include: { actor: true } })
  assert.equal(withActor?.actor?.username, 'admin')
  await prisma.auditLog.update({ where: { id: log.id }, data: { event: 'login.ok' } })
  const [found] = await prisma.adminUser.findMany({ include: { auditLogs: true } })
  assert.deepEqual(found.auditLogs.map(l => l.event), ['login.ok'])
  // ON DELETE SET NULL, as the relation says.
  await prisma.adminUser.delete({ where: { id: admin.id } })
  assert.equal((await prisma.auditLog.findUnique({ where: { id: log.id } }))?.actorId, null)
  await prisma.auditLog.delete({ where: { id: log.id } })
  assert.equal(await prisma.auditLog.count(), 0)
  await prisma.$transaction(async tx => {
    await tx.auditLog.create({ data: { event: 'in.transaction' } })
  })
  assert.equal(await prisma.auditLog.count(), 1)
})

test('mysql: runners started together apply each migration exactly once (GET_LOCK)', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  const url = buildDatabaseUrl(db)
  const results = await Promise.all([1, 2, 3].map(() => migrate({ provider: 'mysql', migrationsDir: referenceSchema.migrationsDir('mysql'), url })))
  const local = (await listLocalMigrations('mysql', { migrationsDir: referenceSchema.migrationsDir('mysql') })).map(m => m.name)
  assert.deepEqual(results.flatMap(r => r.applied).sort(), local, 'each migration applied by exactly one runner')
  const conn = await connect(t, db)
  const rows = await conn.query('SELECT migration_name, COUNT(*) AS n FROM _prisma_migrations GROUP BY migration_name')
  assert.deepEqual(rows.map((r: { migration_name: string, n: bigint }) => [r.migration_name, Number(r.n)]), local.map(name => [name, 1]))
})

test('mysql: a session holding the lock makes the run wait, then fail with lockTimeout (GET_LOCK answered 0)', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  const holder = await connect(t, db)
  const [row] = await holder.query(`SELECT GET_LOCK('${MYSQL_LOCK_NAME}', 1) AS taken`)
  assert.equal(Number(row.taken), 1)
  const started = Date.now()
  await assert.rejects(migrate({ provider: 'mysql', migrationsDir: referenceSchema.migrationsDir('mysql'), url: buildDatabaseUrl(db), lockTimeoutMs: 1000 }),
    (err: unknown) => err instanceof MigrationError && err.code === 'lockTimeout')
  assert.ok(Date.now() - started >= 900, 'it waited for the lock')
  await holder.query(`SELECT RELEASE_LOCK('${MYSQL_LOCK_NAME}')`)
  assert.ok((await migrate({ provider: 'mysql', migrationsDir: referenceSchema.migrationsDir('mysql'), url: buildDatabaseUrl(db) })).applied.length > 0)
})

test('mysql: a failing migration is recorded with its error in logs and stops every later run', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  const url = buildDatabaseUrl(db)
  const migrationsDir = path.join(await tempDir(t), 'migrations')
  await cp(referenceSchema.migrationsDir('mysql'), migrationsDir, { recursive: true })
  await migrate({ provider: 'mysql', url, migrationsDir })
  const broken = '30000101000000_broken'
  await mkdir(path.join(migrationsDir, broken))
  // The first statement commits (DDL), the second fails: exactly the half-applied case.
  await writeFile(path.join(migrationsDir, broken, 'migration.sql'), 'CREATE TABLE `Extra` (`id` INTEGER NOT NULL, PRIMARY KEY (`id`));\nCREATE TABLE `AdminUser` (`id` INTEGER);\n')
  await assert.rejects(migrate({ provider: 'mysql', url, migrationsDir }), (err: unknown) =>
    err instanceof MigrationError && err.code === 'sqlError' && err.migration === broken && /commits each schema change/.test(err.message))
  const conn = await connect(t, db)
  const [record] = await conn.query('SELECT finished_at, logs, applied_steps_count FROM _prisma_migrations WHERE migration_name = ?', [broken])
  assert.equal(record.finished_at, null)
  assert.equal(Number(record.applied_steps_count), 0)
  assert.match(record.logs, /Migration name: 30000101000000_broken/)
  assert.match(record.logs, /Database error code: 1050/)
  assert.deepEqual((await migrationStatus({ provider: 'mysql', url, migrationsDir })).failed, [broken])
  await assert.rejects(migrate({ provider: 'mysql', url, migrationsDir }), (err: unknown) => err instanceof MigrationError && err.code === 'failedMigration')
})

test('every provider ships the same migrations (same directory names), each with its lockfile', async () => {
  const names = await Promise.all((['sqlite', 'postgresql', 'mysql'] as const).map(async p => (await listLocalMigrations(p, { migrationsDir: referenceSchema.migrationsDir(p) })).map(m => m.name)))
  assert.deepEqual(names[2], names[0])
  assert.deepEqual(names[1], names[0])
  assert.match(await readFile(path.join(referenceSchema.migrationsDir('mysql'), 'migration_lock.toml'), 'utf8'), /^provider = "mysql"$/m)
})
