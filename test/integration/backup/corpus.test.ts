// A corpus of defective archives, each derived from one valid backup (made by createBackup from a seeded SQLite
// database) with exactly one defect: its manifest's row counts and sha256 are recomputed so that only the named
// defect remains. Each is refused at verification, with its own message key, for each target engine where it is
// a defect (and accepted where that engine stores it faithfully); verification writes nothing; through the
// wizard, the refusal is a localized message, no file is left and no database written, and the server serves on.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createWriteStream, existsSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import { createBackup } from '../../../server/backup/create.ts'
import { backupLimits, type BackupLimits, type Manifest } from '../../../server/backup/format.ts'
import { verifyBackupFile } from '../../../server/backup/verify.ts'
import { PROVIDERS, type Provider } from '../../../server/db/migrate.ts'
import { translator } from '../../../server/i18n.ts'
import { authorizedClient, build, text, tempDir } from '../../helpers/app.ts'
import { tarOf } from '../../helpers/tar.ts'
import { emptyDatabase, seed } from './fixtures.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

type Row = Record<string, unknown>
interface Parts { manifest: Manifest, files: Record<string, Buffer> }
interface Entry { name: string, data: Buffer, type?: string }
type Expect = string | Partial<Record<Provider, string | null>>
interface Case { name: string, mutate: (p: Parts) => Buffer | void, expect: Expect, limits?: Partial<BackupLimits> }

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const KEY = (code: string) => `setup.restore.errors.${code}`

/** The entries of a (gunzipped) ustar archive, as the backup writer makes them. */
function untar (tar: Buffer): Entry[] {
  const entries: Entry[] = []
  for (let at = 0; at + 512 <= tar.length;) {
    const block = tar.subarray(at, at + 512)
    if (block.every(b => b === 0)) break
    const name = block.toString('utf8', 0, 100).replace(/\0.*$/s, '')
    const size = parseInt(block.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim(), 8)
    entries.push({ name, data: Buffer.from(tar.subarray(at + 512, at + 512 + size)) })
    at += 512 + Math.ceil(size / 512) * 512
  }
  return entries
}

function partsOf (valid: Buffer): Parts {
  const [manifest, ...data] = untar(gunzipSync(valid))
  const parsed = JSON.parse(manifest.data.toString('utf8')) as Manifest
  const files: Record<string, Buffer> = {}
  for (const t of parsed.tables) files[t.name] = data.find(d => d.name === t.file)!.data
  return { manifest: parsed, files }
}

/** Rows counted and hashed again: the manifest agrees with the data, whatever the defect in it. */
function reseal (p: Parts): void {
  for (const t of p.manifest.tables) {
    const data = p.files[t.name] ?? Buffer.alloc(0)
    t.rows = data.length === 0 ? 0 : data.toString('latin1').split('\n').length - 1
    t.sha256 = sha(data)
  }
}

function entries (p: Parts, manifest: Buffer = Buffer.from(JSON.stringify(p.manifest, null, 2))): Entry[] {
  return [{ name: 'manifest.json', data: manifest }, ...p.manifest.tables.map(t => ({ name: t.file, data: p.files[t.name] ?? Buffer.alloc(0) }))]
}

const rowsOf = (p: Parts, table: string): Row[] => p.files[table].toString('utf8').split('\n').filter(Boolean).map(l => JSON.parse(l))
const setRows = (p: Parts, table: string, rows: Row[]) => { p.files[table] = Buffer.from(rows.map(r => JSON.stringify(r) + '\n').join('')) }
const editRow = (table: string, index: number, edit: (row: Row) => void) => (p: Parts) => { const rows = rowsOf(p, table); edit(rows[index]); setRows(p, table, rows) }
const appendLine = (table: string, line: string | Buffer) => (p: Parts) => { p.files[table] = Buffer.concat([p.files[table], Buffer.from(line as string), Buffer.from('\n')]) }
const column = (p: Parts, table: string, name: string) => p.manifest.tables.find(t => t.name === table)!.columns.find(c => c.name === name)!
const table = (p: Parts, name: string) => p.manifest.tables.find(t => t.name === name)!
const sealed = (p: Parts) => { reseal(p); return gzipSync(tarOf(entries(p))) }
const ALL = (code: string): Expect => code
const ONLY = (codes: Partial<Record<Provider, string>>): Expect => ({ sqlite: null, postgresql: null, mysql: null, ...codes })
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$9Tsn6VHKS1Td2SxLcyibNQ$2nn6sm+I4LKYNDkSRBXSNGIhJHwO07EEwrWEAefS77A'

const cases: Case[] = [
  // the archive itself
  { name: 'a plain tar, not gzip', mutate: p => { reseal(p); return tarOf(entries(p)) }, expect: ALL('notGzip') },
  { name: 'an empty file', mutate: () => Buffer.alloc(0), expect: ALL('notGzip') },
  { name: 'a truncated gzip stream', mutate: p => { const gz = sealed(p); return gz.subarray(0, gz.length - 40) }, expect: ALL('truncated') },
  { name: 'text appended after the gzip stream', mutate: p => Buffer.concat([sealed(p), Buffer.from('trailing garbage')]), expect: ALL('trailingData') },
  { name: 'zeros appended after the gzip stream', mutate: p => Buffer.concat([sealed(p), Buffer.alloc(64)]), expect: ALL('trailingData') },
  { name: 'a tar without its end marker', mutate: p => { reseal(p); return gzipSync(tarOf(entries(p), false)) }, expect: ALL('truncated') },
  { name: 'a gzip bomb', mutate: p => { reseal(p); return gzipSync(tarOf([entries(p)[0], { name: 'data/AdminUser.jsonl', data: Buffer.alloc(3 * 1024 * 1024, 0x20) }])) }, expect: ALL('bomb'), limits: { ratioFloorBytes: 512 * 1024 } },
  { name: 'an archive over the size limit', mutate: sealed, expect: ALL('tooLarge'), limits: { maxArchiveBytes: 200 } },
  { name: 'an entry with ../', mutate: p => { reseal(p); return gzipSync(tarOf([...entries(p), { name: '../evil.sh', data: Buffer.from('x') }])) }, expect: ALL('unsafePath') },
  { name: 'an absolute entry name', mutate: p => { reseal(p); return gzipSync(tarOf([entries(p)[0], { name: '/etc/cron.d/x', data: Buffer.from('x') }])) }, expect: ALL('unsafePath') },
  { name: 'a symbolic link', mutate: p => { reseal(p); const e = entries(p); e[1] = { ...e[1], data: Buffer.alloc(0), type: '2' }; return gzipSync(tarOf(e)) }, expect: ALL('entryType') },
  { name: 'a hard link', mutate: p => { reseal(p); const e = entries(p); e[2] = { ...e[2], data: Buffer.alloc(0), type: '1' }; return gzipSync(tarOf(e)) }, expect: ALL('entryType') },
  { name: 'a character device', mutate: p => { reseal(p); const e = entries(p); e.splice(1, 0, { name: 'data/tty', data: Buffer.alloc(0), type: '3' }); return gzipSync(tarOf(e)) }, expect: ALL('entryType') },
  { name: 'a directory entry', mutate: p => { reseal(p); const e = entries(p); e.splice(1, 0, { name: 'data', data: Buffer.alloc(0), type: '5' }); return gzipSync(tarOf(e)) }, expect: ALL('entryType') },
  { name: 'a pax extended header', mutate: p => { reseal(p); const e = entries(p); e.splice(1, 0, { name: 'PaxHeader', data: Buffer.from('30 path=../../etc/passwd\n'), type: 'x' }); return gzipSync(tarOf(e)) }, expect: ALL('entryType') },
  { name: 'a data file twice', mutate: p => { reseal(p); const e = entries(p); e.splice(2, 0, e[1]); return gzipSync(tarOf(e)) }, expect: ALL('duplicateEntry') },
  { name: 'the manifest twice', mutate: p => { reseal(p); const e = entries(p); e.splice(1, 0, e[0]); return gzipSync(tarOf(e)) }, expect: ALL('duplicateEntry') },
  { name: 'a manifest that is not first', mutate: p => { reseal(p); const e = entries(p); [e[0], e[1]] = [e[1], e[0]]; return gzipSync(tarOf(e)) }, expect: ALL('manifestFirst') },
  { name: 'data files out of order', mutate: p => { reseal(p); const e = entries(p); [e[2], e[3]] = [e[3], e[2]]; return gzipSync(tarOf(e)) }, expect: ALL('entryOrder') },
  { name: 'a data file missing in the middle', mutate: p => { reseal(p); const e = entries(p); e.splice(2, 1); return gzipSync(tarOf(e)) }, expect: ALL('entryOrder') },
  { name: 'the last data file missing', mutate: p => { reseal(p); return gzipSync(tarOf(entries(p).slice(0, -1))) }, expect: ALL('missingFile') },
  { name: 'a data file the manifest does not list', mutate: p => { reseal(p); return gzipSync(tarOf([...entries(p), { name: 'data/Extra.jsonl', data: Buffer.alloc(0) }])) }, expect: ALL('unlistedFile') },
  { name: 'a data file changed after its checksum', mutate: p => { reseal(p); p.files.Setting = Buffer.from(p.files.Setting.toString().replace('site.name', 'site.nam3')); return gzipSync(tarOf(entries(p))) }, expect: ALL('checksum') },
  { name: 'a row count lower than the data', mutate: p => { reseal(p); table(p, 'AuditLog').rows -= 1; return gzipSync(tarOf(entries(p))) }, expect: ALL('rowCount') },
  { name: 'a row count higher than the data', mutate: p => { reseal(p); table(p, 'AuditLog').rows += 1; return gzipSync(tarOf(entries(p))) }, expect: ALL('rowCount') },
  { name: 'a line over the line limit', mutate: editRow('Setting', 0, r => { r.value = 'v'.repeat(5000) }), expect: ALL('lineTooLong'), limits: { maxLineBytes: 4096 } },
  { name: 'a data file without its last newline', mutate: p => { p.files.Setting = p.files.Setting.subarray(0, -1); reseal(p); table(p, 'Setting').rows += 1; return gzipSync(tarOf(entries(p))) }, expect: ALL('rowNoNewline') },
  // the manifest
  { name: 'a manifest that is not JSON', mutate: p => { reseal(p); return gzipSync(tarOf(entries(p, Buffer.from('{"format": "amorce-backup",')))) }, expect: ALL('manifestInvalid') },
  { name: 'a manifest that is not UTF-8', mutate: p => { reseal(p); p.manifest.appVersion = 'VERSION'; const m = Buffer.from(JSON.stringify(p.manifest)); m.write('\xff\xfe', m.indexOf('VERSION'), 'latin1'); return gzipSync(tarOf(entries(p, m))) }, expect: ALL('invalidUtf8') },
  { name: 'formatVersion as a string', mutate: p => { (p.manifest as unknown as Row).formatVersion = '1'; return sealed(p) }, expect: ALL('manifestInvalid') },
  { name: 'a newer formatVersion', mutate: p => { p.manifest.formatVersion = 2; return sealed(p) }, expect: ALL('formatVersion') },
  { name: 'another format name', mutate: p => { (p.manifest as unknown as Row).format = 'other-backup'; return sealed(p) }, expect: ALL('manifestInvalid') },
  { name: 'a newer migration level', mutate: p => { p.manifest.migration = '29991231000000_future'; return sealed(p) }, expect: ALL('newerMigration') },
  { name: 'an unknown migration level', mutate: p => { p.manifest.migration = '20000101000000_other_app'; return sealed(p) }, expect: ALL('unknownMigration') },
  { name: 'a table listed twice', mutate: p => { p.manifest.tables.push({ ...p.manifest.tables[1] }); return sealed(p) }, expect: ALL('manifestInvalid') },
  { name: 'a hostile table name', mutate: p => { p.manifest.tables[1].name = 'x"; DROP TABLE y; --'; return sealed(p) }, expect: ALL('manifestInvalid') },
  { name: 'a column type the format does not know', mutate: p => { (column(p, 'Setting', 'value') as unknown as Row).type = 'Text'; return sealed(p) }, expect: ALL('manifestInvalid') },
  { name: 'a malformed sha256', mutate: p => { reseal(p); table(p, 'Setting').sha256 = 'abc'; return gzipSync(tarOf(entries(p))) }, expect: ALL('manifestInvalid') },
  { name: 'a file name that is not the table’s', mutate: p => { table(p, 'Setting').file = 'data/Other.jsonl'; return sealed(p) }, expect: ALL('manifestInvalid') },
  // the manifest against the app's schema
  { name: 'sqlite_sequence listed as a table', mutate: p => { p.manifest.tables.push({ name: 'sqlite_sequence', file: 'data/sqlite_sequence.jsonl', rows: 0, sha256: '', columns: [{ name: 'name', type: 'String', nullable: true }, { name: 'seq', type: 'Int', nullable: true }] }); p.files.sqlite_sequence = Buffer.from('{"name":"AuditLog","seq":2147483647}\n'); return sealed(p) }, expect: ALL('schemaUnknownTable') },
  { name: 'a table that is not an app model', mutate: p => { p.manifest.tables.push({ name: 'Extra', file: 'data/Extra.jsonl', rows: 0, sha256: '', columns: [{ name: 'id', type: 'Int', nullable: false }] }); p.files.Extra = Buffer.alloc(0); return sealed(p) }, expect: ALL('schemaUnknownTable') },
  { name: 'no Setting table', mutate: p => { p.manifest.tables = p.manifest.tables.filter(t => t.name !== 'Setting'); return sealed(p) }, expect: ALL('schemaMissingTable') },
  { name: 'zero tables', mutate: p => { p.manifest.tables = []; return sealed(p) }, expect: ALL('schemaNoTables') },
  { name: 'an extra column in the manifest', mutate: p => { table(p, 'AdminUser').columns.push({ name: 'isRoot', type: 'Boolean', nullable: true }); return sealed(p) }, expect: ALL('schemaUnknownColumn') },
  { name: 'a column missing from the manifest', mutate: p => { const t = table(p, 'AdminUser'); t.columns = t.columns.filter(c => c.name !== 'lastLoginAt'); setRows(p, 'AdminUser', rowsOf(p, 'AdminUser').map(({ lastLoginAt, ...r }) => r)); return sealed(p) }, expect: ALL('schemaMissingColumn') },
  { name: 'createdAt redeclared as a String holding "not a date"', mutate: p => { column(p, 'AdminUser', 'createdAt').type = 'String'; editRow('AdminUser', 0, r => { r.createdAt = 'not a date' })(p); return sealed(p) }, expect: ALL('schemaColumnType') },
  { name: 'an Int id redeclared as BigInt', mutate: p => { column(p, 'AuditLog', 'id').type = 'BigInt'; return sealed(p) }, expect: ALL('schemaColumnType') },
  { name: 'a required column claimed nullable', mutate: p => { column(p, 'AdminUser', 'username').nullable = true; return sealed(p) }, expect: ALL('schemaNullable') },
  { name: 'a nullable column claimed required', mutate: p => { column(p, 'AuditLog', 'detail').nullable = false; return sealed(p) }, expect: ALL('schemaNullable') },
  { name: 'autoincrement set to false', mutate: p => { for (const t of p.manifest.tables) for (const c of t.columns) if (c.autoincrement) c.autoincrement = false; return sealed(p) }, expect: ALL('schemaAutoincrement') },
  { name: 'autoincrement claimed on a text key', mutate: p => { column(p, 'Setting', 'key').autoincrement = true; return sealed(p) }, expect: ALL('schemaAutoincrement') },
  { name: 'a table before the table it references', mutate: p => { const t = p.manifest.tables; const a = t.findIndex(x => x.name === 'AdminUser'); const l = t.findIndex(x => x.name === 'AuditLog'); [t[a], t[l]] = [t[l], t[a]]; return sealed(p) }, expect: ALL('schemaTableOrder') },
  // rows
  { name: 'a line that is not JSON', mutate: appendLine('Setting', '{"key":'), expect: ALL('rowNotJson') },
  { name: 'a JSON array as a row', mutate: appendLine('Setting', '["k","v","2026-01-01T00:00:00.000Z"]'), expect: ALL('rowNotObject') },
  { name: 'a row with an unknown column', mutate: editRow('AdminUser', 0, r => { r.isRoot = true }), expect: ALL('rowUnknownColumn') },
  { name: 'a row with __proto__', mutate: appendLine('Setting', '{"key":"p","value":"v","updatedAt":"2026-01-01T00:00:00.000Z","__proto__":{"x":1}}'), expect: ALL('rowUnknownColumn') },
  { name: 'null in a required column', mutate: editRow('AdminUser', 0, r => { r.username = null }), expect: ALL('rowRequired') },
  { name: 'a required column absent', mutate: editRow('AdminUser', 1, r => { delete r.email }), expect: ALL('rowRequired') },
  { name: 'an id as a string', mutate: editRow('AuditLog', 0, r => { r.id = String(r.id) }), expect: ALL('rowType') },
  { name: 'an Int over 32 bits', mutate: editRow('AuditLog', 2, r => { r.id = 2 ** 31 }), expect: ALL('rowType') },
  { name: 'a fractional Int', mutate: editRow('AuditLog', 2, r => { r.id = 40.5 }), expect: ALL('rowType') },
  { name: 'a date without milliseconds', mutate: editRow('Setting', 0, r => { r.updatedAt = '2026-01-02T03:04:05Z' }), expect: ALL('rowType') },
  { name: 'a date that does not exist (30 February)', mutate: editRow('Setting', 0, r => { r.updatedAt = '2026-02-30T00:00:00.000Z' }), expect: ALL('rowType') },
  { name: 'a date that is not a date', mutate: editRow('AdminUser', 0, r => { r.createdAt = 'not a date' }), expect: ALL('rowType') },
  { name: 'a number in a String column', mutate: editRow('Setting', 0, r => { r.value = 42 }), expect: ALL('rowType') },
  { name: 'an object in a String column', mutate: editRow('Setting', 0, r => { r.value = { a: 1 } }), expect: ALL('rowType') },
  { name: 'a year PostgreSQL and MySQL cannot store', mutate: editRow('AdminUser', 0, r => { r.lastLoginAt = '0000-06-01T00:00:00.000Z' }), expect: ONLY({ postgresql: 'rowOutOfRange', mysql: 'rowOutOfRange' }) },
  { name: 'a year before MySQL’s DATETIME', mutate: editRow('AdminUser', 0, r => { r.lastLoginAt = '0999-12-31T00:00:00.000Z' }), expect: ONLY({ mysql: 'rowOutOfRange' }) },
  { name: 'a duplicate primary key', mutate: editRow('AdminUser', 1, r => { r.id = 3 }), expect: ALL('rowDuplicate') },
  { name: 'a duplicate username', mutate: editRow('AdminUser', 1, r => { r.username = 'alice' }), expect: ALL('rowDuplicate') },
  { name: 'a duplicate email', mutate: editRow('AdminUser', 1, r => { r.email = 'alice@example.com' }), expect: ALL('rowDuplicate') },
  { name: 'a duplicate setting key', mutate: editRow('Setting', 1, r => { r.key = 'site.name' }), expect: ALL('rowDuplicate') },
  { name: 'a username equal but for case (MySQL’s collation)', mutate: editRow('AdminUser', 1, r => { r.username = 'ALICE' }), expect: ONLY({ mysql: 'rowDuplicate' }) },
  { name: 'an AuditLog actorId naming no admin', mutate: editRow('AuditLog', 1, r => { r.actorId = 999 }), expect: ALL('rowForeignKey') },
  { name: 'a plaintext password hash', mutate: editRow('AdminUser', 0, r => { r.passwordHash = 'plaintext' }), expect: ALL('rowPasswordHash') },
  { name: 'an argon2i (not argon2id) hash', mutate: editRow('AdminUser', 0, r => { r.passwordHash = HASH.replace('argon2id', 'argon2i') }), expect: ALL('rowPasswordHash') },
  { name: 'a bcrypt hash', mutate: editRow('AdminUser', 0, r => { r.passwordHash = '$2b$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa' }), expect: ALL('rowPasswordHash') },
  { name: 'invalid UTF-8 in a row', mutate: p => { const rows = rowsOf(p, 'Setting'); rows[0].value = 'BAD'; setRows(p, 'Setting', rows); const at = p.files.Setting.indexOf('BAD'); p.files.Setting[at] = 0xc3; p.files.Setting[at + 1] = 0x28 }, expect: ALL('invalidUtf8') },
  { name: 'a lone surrogate in a row', mutate: p => { p.files.Setting = Buffer.from(p.files.Setting.toString().replace('"empty"', '"\\ud800x"')) }, expect: ALL('invalidUtf8') },
  { name: 'NUL in a string (PostgreSQL)', mutate: editRow('Setting', 0, r => { r.value = 'a\u0000b' }), expect: ONLY({ postgresql: 'rowNul' }) },
  { name: 'a 1 MiB username', mutate: editRow('AdminUser', 0, r => { r.username = 'u'.repeat(1024 * 1024) }), expect: ONLY({ postgresql: 'rowTooLongBytes', mysql: 'rowTooLongChars' }) },
  { name: 'a 192-character username (MySQL VARCHAR(191))', mutate: editRow('AdminUser', 0, r => { r.username = 'é'.repeat(192) }), expect: ONLY({ mysql: 'rowTooLongChars' }) },
  { name: 'a 6 MB setting value (MySQL VARCHAR(191))', mutate: editRow('Setting', 0, r => { r.value = 'v'.repeat(6 * 1024 * 1024) }), expect: ONLY({ mysql: 'rowTooLongChars' }) }
]

function expected (c: Case, provider: Provider): string | null {
  return typeof c.expect === 'string' ? c.expect : c.expect[provider] ?? null
}

/** The valid backup every case starts from, and one archive per case. */
async function corpus (t: import('node:test').TestContext): Promise<{ valid: string, files: Map<Case, string> }> {
  const source = (await emptyDatabase(t, 'sqlite'))!
  await seed('sqlite', source)
  const valid = path.join(await tempDir(t), 'valid.tar.gz')
  await createBackup(createWriteStream(valid), { schema: referenceSchema, provider: 'sqlite', url: source })
  const bytes = await readFile(valid)
  const files = new Map<Case, string>()
  for (const [i, c] of cases.entries()) {
    const p = partsOf(bytes)
    const out = c.mutate(p) ?? sealed(p)
    const file = path.join(path.dirname(valid), `case-${String(i).padStart(2, '0')}.tar.gz`)
    await writeFile(file, out)
    files.set(c, file)
  }
  return { valid, files }
}

test(`the corpus: ${cases.length} defective archives, each refused at verification with its own key on every engine where it is a defect`, async t => {
  assert.ok(cases.length >= 60, `${cases.length} cases`)
  const { valid, files } = await corpus(t)
  const before = (await readdir(path.dirname(valid))).sort()
  for (const provider of PROVIDERS) {
    const report = await verifyBackupFile(valid, { schema: referenceSchema, admin: adminStore, provider })
    assert.equal(report.ok, true, `the valid backup verifies for ${provider}: ${JSON.stringify(report.problems)}`)
  }
  let refused = 0
  let accepted = 0
  for (const c of cases) {
    for (const provider of PROVIDERS) {
      const want = expected(c, provider)
      const report = await verifyBackupFile(files.get(c)!, { schema: referenceSchema, admin: adminStore, provider, limits: backupLimits({}, c.limits ?? {}) })
      if (want === null) {
        assert.equal(report.ok, true, `${c.name} is stored faithfully by ${provider}: ${JSON.stringify(report.problems)}`)
        accepted++
        continue
      }
      assert.equal(report.ok, false, `${c.name} is refused for ${provider}`)
      assert.equal(report.problems[0].key, KEY(want), `${c.name} (${provider}): ${report.problems[0].message}`)
      // The message names what is wrong, in both languages, with no placeholder left.
      for (const lang of ['en', 'fr'] as const) {
        const message = translator(lang)(report.problems[0].key, report.problems[0].params)
        assert.doesNotMatch(message, /\{\{|setup\.restore/, `${c.name}: ${message}`)
      }
      refused++
    }
  }
  // Verification only reads: the directory holds exactly what it held.
  assert.deepEqual((await readdir(path.dirname(valid))).sort(), before)
  t.diagnostic(`${cases.length} cases, ${refused} refusals at verification, ${accepted} engine/case pairs the engine stores faithfully`)
})

test('through the wizard, every case is refused at upload with a localized message, leaving no file and no database', async t => {
  const { files } = await corpus(t)
  const { app, dir: appDir } = await build(t)
  const client = await authorizedClient(app)
  const dbFile = path.join(appDir, 'data', 'app.db')
  for (const [step, form] of [['language', { language: 'fr' }], ['prerequisites', {}], ['database', { provider: 'sqlite', file: dbFile }], ['cache', { backend: 'memory' }]] as Array<[string, Record<string, string>]>) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, step)
  }
  await client.get('/setup/restore')
  const fr = translator('fr')
  for (const c of cases) {
    const want = expected(c, 'sqlite')
    if (want === null || c.limits) continue
    const res = await client.request({
      method: 'POST',
      url: '/setup/restore/upload',
      payload: await readFile(files.get(c)!),
      headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': client.csrfToken() ?? '' }
    })
    assert.equal(res.statusCode, 422, `${c.name}: ${res.body}`)
    const message = JSON.parse(res.body).message as string
    const template = fr(KEY(want), { returnObjects: false }) as string
    const fixed = template.split(/\{\{\w+\}\}/).filter(part => part.length > 3)
    for (const part of fixed) assert.ok(message.includes(part), `${c.name}: « ${message} » is the French message of ${want}`)
    assert.deepEqual((await readdir(path.join(appDir, 'data'))).filter(f => f.startsWith('restore-upload')), [], `${c.name}: no upload kept`)
  }
  // A path on the server is refused the same way, and nothing was written to the database.
  const byPath = await client.post('/setup/restore', { mode: 'path', path: files.get(cases.find(c => c.name === 'a plaintext password hash')!)!, _action: 'verify' })
  assert.equal(byPath.statusCode, 422)
  assert.match(text(byPath), /empreinte de mot de passe/)
  assert.doesNotMatch(text(byPath), /passwordHash is not|is not in a format/)
  assert.equal(existsSync(dbFile), false, 'no database written')
  const page = await client.get('/setup/restore')
  assert.equal(page.statusCode, 200, 'the server still serves the wizard')
})

test('npm run backup:verify prints every problem, localized, and exits non-zero; a valid backup exits 0', async t => {
  const { valid } = await corpus(t)
  const { spawnSync } = await import('node:child_process')
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'server/backup/verify-cli.ts', ...args], { encoding: 'utf8', cwd: path.join(import.meta.dirname, '../../..'), env: { ...process.env, LANG: 'C' } })
  const ok = run(valid)
  assert.equal(ok.status, 0, ok.stdout + ok.stderr)
  assert.equal(ok.stdout.trim().split('\n').length, 3, 'one line per engine')
  // Two row problems in one file: both are listed.
  const p = partsOf(await readFile(valid))
  editRow('AdminUser', 0, r => { r.passwordHash = 'plaintext' })(p)
  editRow('AuditLog', 1, r => { r.actorId = 999 })(p)
  const bad = path.join(path.dirname(valid), 'two-problems.tar.gz')
  await writeFile(bad, sealed(p))
  const res = run(bad, '--provider', 'mysql', '--lang', 'fr')
  assert.equal(res.status, 1)
  assert.match(res.stdout, /Ligne 1 de data\/AdminUser\.jsonl\s: la colonne passwordHash n’est pas une empreinte/)
  assert.match(res.stdout, /Ligne 2 de data\/AuditLog\.jsonl\s: la colonne actorId renvoie à une ligne de AdminUser/)
  assert.equal(run().status, 2, 'usage')
})
