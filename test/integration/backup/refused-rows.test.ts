// Rows the codec accepts but the database refuses (here two administrators with one email, a unique column): the
// restore fails with a clear error and the transaction leaves every table empty, on each engine, also when the
// refused batch is not the first (one batch is inserted while the next one is read).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { BackupError } from '../../../server/backup/errors.ts'
import { backupLimits, dataFileName, FORMAT_NAME, type Manifest } from '../../../server/backup/format.ts'
import { restoreBackup } from '../../../server/backup/restore.ts'
import { appSchema } from '../../../server/backup/schema.ts'
import { END_OF_ARCHIVE, fileHeader, padding } from '../../../server/backup/tar.ts'
import { listLocalMigrations, type Provider } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { emptyDatabase, migrationsAvailable } from './fixtures.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { engineOf } from '../../../server/db/engines/index.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

const APP_TABLES = await appSchema(referenceSchema)

const sha = (text: string) => createHash('sha256').update(text).digest('hex')
const admin = (id: number, username: string, email: string) =>
  JSON.stringify({ id, username, email, passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$9Tsn6VHKS1Td2SxLcyibNQ$2nn6sm+I4LKYNDkSRBXSNGIhJHwO07EEwrWEAefS77A', locale: 'en', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', lastLoginAt: null }) + '\n'

async function archive (dir: string): Promise<string> {
  const files: Record<string, string> = {
    AdminUser: admin(1, 'alice', 'a@example.com') + admin(2, 'bob', 'b@example.com') + admin(3, 'carol', 'a@example.com'),
    Setting: '{"key":"k","value":"v","updatedAt":"2026-01-01T00:00:00.000Z"}\n',
    AuditLog: ''
  }
  const manifest: Manifest = {
    format: FORMAT_NAME,
    formatVersion: 1,
    appVersion: '0.1.0',
    createdAt: '2026-01-01T00:00:00.000Z',
    sourceProvider: 'sqlite',
    migration: (await listLocalMigrations('sqlite', { migrationsDir: referenceSchema.migrationsDir('sqlite') })).at(-1)!.name,
    tables: APP_TABLES.map(t => ({ name: t.name, file: dataFileName(t.name), rows: files[t.name].split('\n').length - 1, sha256: sha(files[t.name]), columns: t.columns }))
  }
  const parts: Buffer[] = []
  for (const [name, text] of [['manifest.json', JSON.stringify(manifest)], ...manifest.tables.map(t => [t.file, files[t.name]])]) {
    const data = Buffer.from(text)
    parts.push(fileHeader(name, data.length), data, padding(data.length))
  }
  parts.push(END_OF_ARCHIVE)
  const file = path.join(dir, 'duplicate-email.tar.gz')
  await writeFile(file, gzipSync(Buffer.concat(parts)))
  return file
}

for (const provider of ['sqlite', 'postgresql', 'mysql'] as Provider[]) {
  test(`${provider}: rows the database refuses fail the restore and leave every table empty`, async t => {
    if (!migrationsAvailable(provider)) return t.skip(`no ${provider} migrations yet`)
    const url = await emptyDatabase(t, provider)
    if (url === undefined) return
    const file = await archive(await tempDir(t))
    // With the app's schema, the duplicate is refused by the verification the restore reads through.
    await assert.rejects(restoreBackup({ schema: referenceSchema, admin: adminStore, file, provider, url, limits: backupLimits({}), batchSize: 1 }), (error: unknown) => {
      assert.ok(error instanceof BackupError, String(error))
      assert.equal(error.code, 'rowDuplicate')
      assert.deepEqual(error.i18n.params, { name: 'data/AdminUser.jsonl', line: 3, column: 'email' })
      return true
    })
    // A schema that does not know the unique index lets the rows through: the database's refusal rolls back.
    const withoutUniques = async (level: string) => (await appSchema(referenceSchema, level)).map(table => ({ ...table, uniques: [table.key] }))
    await assert.rejects(restoreBackup({ schema: referenceSchema, admin: adminStore, file, provider, url, limits: backupLimits({}), batchSize: 1, tables: withoutUniques }), (error: unknown) => {
      assert.ok(error instanceof BackupError, String(error))
      assert.equal(error.code, 'database')
      assert.deepEqual(error.i18n, { key: 'setup.restore.errors.database', params: { name: 'AdminUser' } })
      return true
    })
    const engine = await engineOf(provider).backup.open(url)
    try {
      for (const table of APP_TABLES) assert.equal(await engine.count(table.name), 0, `${table.name} is empty`)
    } finally {
      await engine.close()
    }
  })
}

for (const provider of ['sqlite', 'mysql'] as Provider[]) {
  test(`${provider}: a load with deferred or disabled foreign-key checks is checked before the commit, naming the table`, async t => {
    const url = await emptyDatabase(t, provider)
    if (url === undefined) return
    const { migrate } = await import('../../../server/db/migrate.ts')
    await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url })
    const audit = APP_TABLES.find(x => x.name === 'AuditLog')!
    const engine = await engineOf(provider).backup.open(url)
    try {
      await engine.beginWrite()
      // An orphan: the restore's load path accepts it (MySQL: foreign_key_checks = 0; SQLite: deferred).
      await engine.insert('AuditLog', audit.columns, [[1, new Date('2026-01-01T00:00:00.000Z'), 'x', null, 999]])
      await assert.rejects(engine.checkForeignKeys(APP_TABLES), (error: unknown) => {
        assert.ok(error instanceof BackupError)
        assert.equal(error.code, 'rowForeignKey')
        assert.equal(error.params.name, 'AuditLog')
        assert.equal(error.params.column, 'actorId')
        return true
      })
      await engine.rollback()
      assert.equal(await engine.count('AuditLog'), 0)
    } finally {
      await engine.close()
    }
  })
}
