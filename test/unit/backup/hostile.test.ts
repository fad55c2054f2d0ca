// Every hostile or broken archive is refused with its own error code (a localized message), before anything is
// written: the verification only reads, and a restore of a bad archive leaves the database empty.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { gzipSync } from 'node:zlib'
import { BackupError, type BackupErrorCode } from '../../../server/backup/errors.ts'
import { backupLimits, dataFileName, FORMAT_NAME, type BackupLimits, type Manifest } from '../../../server/backup/format.ts'
import { appSchema } from '../../../server/backup/schema.ts'
import { tarOf as tarArchive, type TarEntry } from '../../helpers/tar.ts'
import { verifyBackup } from '../../../server/backup/verify.ts'
import { listLocalMigrations } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

const APP_TABLES = await appSchema(referenceSchema)

const LATEST = (await listLocalMigrations('sqlite', { migrationsDir: referenceSchema.migrationsDir('sqlite') })).at(-1)!.name
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

type Entry = TarEntry

/** Names over tar's 100 bytes are cut, as a careless writer would. */
const tarOf = (entries: Entry[], end = true) => tarArchive(entries.map(e => ({ ...e, name: e.name.length > 100 ? e.name.slice(0, 100) : e.name })), end)

/** The data lines of a small valid backup, and its manifest. */
function validParts (overrides: Partial<Manifest> = {}) {
  const files: Record<string, string> = {
    AdminUser: '{"id":1,"username":"alice","email":"a@example.com","passwordHash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo","locale":"en","createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z","lastLoginAt":null}\n',
    Setting: '',
    AuditLog: '{"id":1,"at":"2026-01-01T00:00:00.000Z","event":"x","detail":null,"actorId":1}\n'
  }
  const manifest: Manifest = {
    format: FORMAT_NAME,
    formatVersion: 1,
    appVersion: '0.1.0',
    createdAt: '2026-01-01T00:00:00.000Z',
    sourceProvider: 'sqlite',
    migration: LATEST,
    tables: APP_TABLES.map(t => ({ name: t.name, file: dataFileName(t.name), rows: files[t.name].split('\n').length - 1, sha256: sha(files[t.name]), columns: t.columns })),
    ...overrides
  }
  return { files, manifest }
}

function entriesOf (parts: ReturnType<typeof validParts>): Entry[] {
  return [{ name: 'manifest.json', data: JSON.stringify(parts.manifest) }, ...parts.manifest.tables.map(t => ({ name: t.file, data: parts.files[t.name] }))]
}

async function fileWith (t: TestContext, bytes: Buffer): Promise<string> {
  const file = path.join(await tempDir(t), 'b.tar.gz')
  await writeFile(file, bytes)
  return file
}

async function refused (t: TestContext, bytes: Buffer, code: BackupErrorCode, limits: Partial<BackupLimits> = {}): Promise<BackupError> {
  const file = await fileWith(t, bytes)
  try {
    await verifyBackup(file, { schema: referenceSchema, admin: adminStore, provider: 'sqlite', limits: backupLimits({}, limits) })
  } catch (error) {
    assert.ok(error instanceof BackupError, `a BackupError, not ${String(error)}`)
    assert.equal(error.code, code, error.message)
    return error
  }
  assert.fail(`expected ${code}`)
}

test('a valid archive verifies and is summarized', async t => {
  const summary = await verifyBackup(await fileWith(t, gzipSync(tarOf(entriesOf(validParts())))), { provider: 'sqlite', limits: backupLimits({}), schema: referenceSchema, admin: adminStore })
  assert.equal(summary.totalRows, 2)
  assert.deepEqual(summary.admins, ['alice'])
  assert.equal(summary.migration, LATEST)
})

const cases: Array<[string, () => Buffer, BackupErrorCode, Partial<BackupLimits>?]> = [
  ['an entry with ../', () => gzipSync(tarOf([...entriesOf(validParts()).slice(0, 1), { name: '../evil', data: 'x' }])), 'unsafePath'],
  ['an absolute path', () => gzipSync(tarOf([{ name: '/etc/passwd', data: 'x' }])), 'unsafePath'],
  ['a symlink', () => gzipSync(tarOf([...entriesOf(validParts()).slice(0, 1), { name: 'data/AdminUser.jsonl', data: '', type: '2' }])), 'entryType'],
  ['a hard link', () => gzipSync(tarOf([{ name: 'manifest.json', data: '', type: '1' }])), 'entryType'],
  ['a character device', () => gzipSync(tarOf([{ name: 'dev', data: '', type: '3' }])), 'entryType'],
  ['a block device', () => gzipSync(tarOf([{ name: 'dev', data: '', type: '4' }])), 'entryType'],
  ['a pax extended header', () => gzipSync(tarOf([{ name: 'PaxHeader', data: '30 path=../../etc/passwd\n', type: 'x' }])), 'entryType'],
  ['a duplicate entry', () => { const e = entriesOf(validParts()); return gzipSync(tarOf([e[0], e[1], e[1], e[2], e[3]])) }, 'duplicateEntry'],
  ['a duplicate manifest', () => { const e = entriesOf(validParts()); return gzipSync(tarOf([e[0], e[0]])) }, 'duplicateEntry'],
  ['a gzip bomb (ratio)', () => gzipSync(tarOf([entriesOf(validParts())[0], { name: 'data/AdminUser.jsonl', data: Buffer.alloc(8 * 1024 * 1024, 0x20) }])), 'bomb', { ratioFloorBytes: 1024 * 1024 }],
  ['a gzip bomb (expanded size)', () => gzipSync(tarOf([{ name: 'manifest.json', data: Buffer.alloc(4 * 1024 * 1024, 0x20) }])), 'bomb', { maxExpandedBytes: 1024 * 1024, maxRatio: 1e9 }],
  ['a truncated archive', () => { const gz = gzipSync(tarOf(entriesOf(validParts()))); return gz.subarray(0, gz.length - 30) }, 'truncated'],
  ['a tar without its end', () => gzipSync(tarOf(entriesOf(validParts()), false)), 'truncated'],
  ['a checksum mismatch', () => { const p = validParts(); p.files.AuditLog = p.files.AuditLog.replace('"x"', '"y"'); return gzipSync(tarOf(entriesOf(p))) }, 'checksum'],
  ['a file listed but missing', () => gzipSync(tarOf(entriesOf(validParts()).slice(0, 3))), 'missingFile'],
  ['a file present but not listed', () => gzipSync(tarOf([...entriesOf(validParts()), { name: 'data/Extra.jsonl', data: '' }])), 'unlistedFile'],
  ['an unknown format version', () => gzipSync(tarOf(entriesOf(validParts({ formatVersion: 2 })))), 'formatVersion'],
  ['a newer migration level', () => gzipSync(tarOf(entriesOf(validParts({ migration: '29991231000000_future' })))), 'newerMigration'],
  ['an unknown migration level', () => gzipSync(tarOf(entriesOf(validParts({ migration: '20000101000000_other_app' })))), 'unknownMigration'],
  ['a file that is not gzip', () => tarOf(entriesOf(validParts())), 'notGzip'],
  ['an empty file', () => Buffer.alloc(0), 'notGzip'],
  ['a manifest that is not first', () => { const e = entriesOf(validParts()); return gzipSync(tarOf([e[1], e[0]])) }, 'manifestFirst'],
  ['a manifest that is not JSON', () => gzipSync(tarOf([{ name: 'manifest.json', data: '{nope' }])), 'manifestInvalid'],
  ['a manifest with a hostile table name', () => { const p = validParts(); const e = entriesOf(p); p.manifest.tables[0].name = 'x"; DROP TABLE y; --'; e[0].data = JSON.stringify(p.manifest); return gzipSync(tarOf(e)) }, 'manifestInvalid'],
  ['a JSON line over the limit', () => { const p = validParts(); p.files.Setting = `{"key":"k","value":"${'v'.repeat(2000)}","updatedAt":"2026-01-01T00:00:00.000Z"}\n`; p.manifest = validParts().manifest; const s = p.manifest.tables.find(x => x.name === 'Setting')!; s.rows = 1; s.sha256 = sha(p.files.Setting); return gzipSync(tarOf(entriesOf(p))) }, 'lineTooLong', { maxLineBytes: 1000 }],
  ['a row with a wrong type', () => rowCase('{"key":"k","value":42,"updatedAt":"2026-01-01T00:00:00.000Z"}\n'), 'rowType'],
  ['a row missing a required field', () => rowCase('{"key":"k","updatedAt":"2026-01-01T00:00:00.000Z"}\n'), 'rowRequired'],
  ['a row with an unknown column', () => rowCase('{"key":"k","value":"v","updatedAt":"2026-01-01T00:00:00.000Z","admin":true}\n'), 'rowUnknownColumn'],
  ['a row with a date without milliseconds', () => rowCase('{"key":"k","value":"v","updatedAt":"2026-01-01T00:00:00Z"}\n'), 'rowType'],
  ['a line that is not JSON', () => rowCase('{"key":\n'), 'rowNotJson'],
  ['more rows than the manifest says', () => { const p = validParts(); p.files.Setting = '{"key":"k","value":"v","updatedAt":"2026-01-01T00:00:00.000Z"}\n'; const s = p.manifest.tables.find(x => x.name === 'Setting')!; s.sha256 = sha(p.files.Setting); return gzipSync(tarOf(entriesOf(p))) }, 'rowCount'],
  ['an archive over the size limit', () => gzipSync(tarOf(entriesOf(validParts()))), 'tooLarge', { maxArchiveBytes: 100 }]
]

function rowCase (line: string): Buffer {
  const p = validParts()
  p.files.Setting = line
  const s = p.manifest.tables.find(x => x.name === 'Setting')!
  s.rows = 1
  s.sha256 = sha(line)
  return gzipSync(tarOf(entriesOf(p)))
}

for (const [name, make, code, limits] of cases) {
  test(`refuses ${name} (${code})`, async t => {
    const error = await refused(t, make(), code, limits)
    assert.equal(error.i18n.key, `setup.restore.errors.${code}`)
  })
}
