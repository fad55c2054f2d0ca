// The wizard restores a backup: a path on the server or an upload, verified and confirmed, loaded at install;
// then either the restored administrators sign in with their old passwords, or a new administrator is added.
import assert from 'node:assert/strict'
import { createWriteStream } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { hashPassword } from '../../../server/auth/password.ts'
import { createBackup } from '../../../server/backup/create.ts'
import { authorizedClient, build, Client, STRONG_PASSWORD, text, tempDir } from '../../helpers/app.ts'
import { emptyDatabase, logicalDump, sampleRows, seed } from './fixtures.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

const OLD_PASSWORD = 'Old-Account-Password-Still-Works-7'

async function makeBackup (t: TestContext): Promise<{ file: string, source: string }> {
  const source = (await emptyDatabase(t, 'sqlite'))!
  const rows = sampleRows()
  rows.AdminUser[0][3] = await hashPassword(OLD_PASSWORD)
  await seed('sqlite', source, rows)
  const file = path.join(await tempDir(t), 'backup.tar.gz')
  await createBackup(createWriteStream(file), { schema: referenceSchema, provider: 'sqlite', url: source })
  return { file, source }
}

async function walkToRestore (client: Client, dir: string): Promise<void> {
  const steps: Array<[string, Record<string, string>]> = [
    ['language', { language: 'en' }],
    ['prerequisites', {}],
    ['database', { provider: 'sqlite', file: path.join(dir, 'data', 'app.db') }],
    ['cache', { backend: 'memory' }]
  ]
  for (const [step, form] of steps) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `step ${step}: ${text(res).match(/class="error"[^>]*>([^<]*)/)?.[1]}`)
  }
}

async function installAndLogin (client: Client, login: string, password: string): Promise<string> {
  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.equal(install.statusCode, 200)
  assert.match(text(install), /Installation complete/, text(install).match(/role="alert">([^<]*)/)?.[1])
  assert.match(text(install), /8 rows restored in 3 tables/)
  assert.match(text(install), /of 8 rows restored \(100%\)/)
  await client.get('/login')
  const res = await client.post('/login', { login, password })
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/dashboard')
  return text(install)
}

test('restore from a path, keep the restored accounts: the old account signs in, data identical, ids continue', async t => {
  const { file, source } = await makeBackup(t)
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await walkToRestore(client, dir)

  const missing = await client.post('/setup/restore', { mode: 'path', path: path.join(dir, 'nope.tar.gz'), _action: 'verify' })
  assert.equal(missing.statusCode, 422)
  assert.match(text(missing), /No readable backup file at/)

  const checked = await client.post('/setup/restore', { mode: 'path', path: file, _action: 'verify' })
  assert.equal(checked.statusCode, 200)
  const page = text(checked)
  assert.match(page, /What will be restored/)
  assert.match(page, /AuditLog<\/code><\/td><td class="num">3</)
  assert.match(page, /alice, bób_ü/)
  assert.match(page, /SQLite → SQLite/)

  const confirmed = await client.post('/setup/restore', { mode: 'path', confirm: '1', _action: 'next' })
  assert.equal(confirmed.headers.location, '/setup/admin')
  const adminPage = text(await client.get('/setup/admin'))
  assert.match(adminPage, /Keep the restored accounts/)
  assert.equal((await client.post('/setup/admin', { accounts: 'keep', _action: 'next' })).headers.location, '/setup/finalize')
  assert.match(text(await client.get('/setup/finalize')), /Restore a backup: 8 rows from SQLite/)

  await installAndLogin(client, 'alice', OLD_PASSWORD)
  const target = `file:${path.join(dir, 'data', 'app.db')}`
  const restored = await logicalDump('sqlite', target)
  const original = await logicalDump('sqlite', source)
  assert.deepEqual(restored.AdminUser.map(l => JSON.parse(l).username), original.AdminUser.map(l => JSON.parse(l).username))
  // The install adds its own audit rows after the restored ones, with ids after the highest restored id.
  assert.deepEqual(restored.AuditLog.slice(0, 3), original.AuditLog)
  assert.ok(restored.AuditLog.slice(3).every(l => JSON.parse(l).id > 40))
  // Plus one row: the install's proof, committed with the data, that this backup is loaded (a resumed install skips it).
  const marker = restored.Setting.filter(l => JSON.parse(l).key === 'backup:restored')
  assert.equal(marker.length, 1)
  assert.match(JSON.parse(marker[0]).value, /^[0-9a-f]{64}$/)
  // And this install's own lock (its database copy, written by the lock stage after the restore).
  const lock = restored.Setting.filter(l => JSON.parse(l).key === 'install:completedAt')
  assert.equal(lock.length, 1)
  assert.ok(Date.parse(JSON.parse(lock[0]).value) > Date.parse('2026-01-01'))
  assert.deepEqual(restored.Setting.filter(l => !['backup:restored', 'install:completedAt'].includes(JSON.parse(l).key)), original.Setting)
})

test('restore by upload, add a new administrator: both the new and the restored accounts sign in', async t => {
  const { file } = await makeBackup(t)
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await walkToRestore(client, dir)
  await client.get('/setup/restore')
  const { readFile } = await import('node:fs/promises')
  const upload = await client.request({
    method: 'POST',
    url: '/setup/restore/upload',
    payload: await readFile(file),
    headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': client.csrfToken() ?? '' }
  })
  assert.equal(upload.statusCode, 200, upload.body)
  assert.equal(JSON.parse(upload.body).location, '/setup/restore')
  assert.match(text(await client.get('/setup/restore')), /the uploaded backup/)
  await client.post('/setup/restore', { mode: 'upload', confirm: '1', _action: 'next' })
  // A restored account's username or email is refused here, per field, not at install (compared without case).
  const taken = await client.post('/setup/admin', { accounts: 'new', username: 'Alice', email: 'BOB@exämple.org', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD, _action: 'next' })
  assert.equal(taken.statusCode, 422)
  assert.match(text(taken), /A restored account is already named Alice: choose another username/)
  assert.match(text(taken), /A restored account already uses BOB@exämple.org: enter another email/)
  const res = await client.post('/setup/admin', { accounts: 'new', username: 'newadmin', email: 'new@example.com', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD, _action: 'next' })
  assert.equal(res.headers.location, '/setup/finalize')
  await installAndLogin(client, 'newadmin', STRONG_PASSWORD)
  // The uploaded archive (password hashes) does not outlive the install.
  assert.deepEqual((await readdir(path.join(dir, 'data'))).filter(f => f.startsWith('restore-upload')), [])
  await client.get('/dashboard')
  await client.post('/logout', {})
  await client.get('/login')
  const old = await client.post('/login', { login: 'alice@example.com', password: OLD_PASSWORD })
  assert.equal(old.headers.location, '/dashboard')
})

test('an upload over BACKUP_MAX_BYTES is refused while it streams and leaves no file; a hostile upload is refused', async t => {
  const { file } = await makeBackup(t)
  const { app, dir } = await build(t, { env: { BACKUP_MAX_BYTES: '600' } })
  const client = await authorizedClient(app)
  await walkToRestore(client, dir)
  await client.get('/setup/restore')
  const { readFile } = await import('node:fs/promises')
  const bytes = Buffer.concat([await readFile(file), Buffer.alloc(2000, 1)])
  // No Content-Length to decide early: the cap must trip while the body streams.
  const { Readable } = await import('node:stream')
  const big = await client.request({
    method: 'POST',
    url: '/setup/restore/upload',
    payload: Readable.from([bytes.subarray(0, 500), bytes.subarray(500)]),
    headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': client.csrfToken() ?? '' }
  })
  assert.equal(big.statusCode, 413)
  assert.match(JSON.parse(big.body).message, /larger than the limit of 600 bytes/)
  assert.deepEqual((await readdir(path.join(dir, 'data'))).filter(f => f.startsWith('restore-upload')), [])

  const notGzip = await client.request({
    method: 'POST',
    url: '/setup/restore/upload',
    payload: Buffer.from('hello, not a backup'),
    headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': client.csrfToken() ?? '' }
  })
  assert.equal(notGzip.statusCode, 422)
  assert.match(JSON.parse(notGzip.body).message, /not a gzip-compressed backup/)
  assert.deepEqual((await readdir(path.join(dir, 'data'))).filter(f => f.startsWith('restore-upload')), [])
  await writeFile(path.join(dir, 'unused'), '')
})

test('normal mode: an administrator downloads a backup that restores; anonymous visitors are sent to sign in', async t => {
  const { file } = await makeBackup(t)
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await walkToRestore(client, dir)
  await client.post('/setup/restore', { mode: 'path', path: file, _action: 'verify' })
  await client.post('/setup/restore', { mode: 'path', confirm: '1', _action: 'next' })
  await client.post('/setup/admin', { accounts: 'keep', _action: 'next' })
  await installAndLogin(client, 'alice', OLD_PASSWORD)

  const anonymous = await app.inject({ url: '/backup' })
  assert.equal(anonymous.statusCode, 303)
  assert.match(text(await client.get('/dashboard')), /Download a backup/)
  const download = await client.get('/backup')
  assert.equal(download.statusCode, 200)
  assert.equal(download.headers['content-type'], 'application/gzip')
  assert.match(String(download.headers['content-disposition']), /attachment; filename="amorce-backup-.*\.tar\.gz"/)
  const copy = path.join(await tempDir(t), 'downloaded.tar.gz')
  await writeFile(copy, download.rawPayload)
  const target = (await emptyDatabase(t, 'sqlite'))!
  const { restoreBackup } = await import('../../../server/backup/restore.ts')
  const { backupLimits } = await import('../../../server/backup/format.ts')
  const summary = await restoreBackup({ schema: referenceSchema, admin: adminStore, file: copy, provider: 'sqlite', url: target, limits: backupLimits({}) })
  assert.deepEqual(summary.admins, ['alice', 'bób_ü'])
  const live = await logicalDump('sqlite', `file:${path.join(dir, 'data', 'app.db')}`)
  // The download itself is audited once the archive is complete, so after the snapshot.
  assert.match(live.AuditLog.pop()!, /"event":"backup.downloaded"/)
  assert.deepEqual(await logicalDump('sqlite', target), live)
})

test('a backup replaced after it was confirmed fails the restore at install, localized, with nothing kept; Resume then completes', async t => {
  const { file } = await makeBackup(t)
  const { copyFile, readFile: read } = await import('node:fs/promises')
  const original = path.join(path.dirname(file), 'original.tar.gz')
  await copyFile(file, original)
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await walkToRestore(client, dir)
  assert.equal((await client.post('/setup/restore', { mode: 'path', path: file, _action: 'verify' })).statusCode, 200)
  assert.equal((await client.post('/setup/restore', { mode: 'path', confirm: '1', _action: 'next' })).headers.location, '/setup/admin')
  assert.equal((await client.post('/setup/admin', { accounts: 'keep', _action: 'next' })).headers.location, '/setup/finalize')

  // Another valid backup takes the confirmed file's place: the install restores only the verified file.
  const other = (await emptyDatabase(t, 'sqlite'))!
  await seed('sqlite', other, { ...sampleRows(), Setting: [['another', 'backup', new Date('2026-01-01T00:00:00.000Z')]] })
  await createBackup(createWriteStream(file), { schema: referenceSchema, provider: 'sqlite', url: other })
  assert.notDeepEqual(await read(file), await read(original))

  const failed = await client.post('/setup/finalize', { _action: 'install' })
  const page = text(failed)
  assert.match(page, /backup\.tar\.gz does not match its checksum: the backup was altered or damaged/)
  assert.doesNotMatch(page, /SQLITE_|Prisma|node_modules|\/server\//)
  const target = `file:${path.join(dir, 'data', 'app.db')}`
  const dump = await logicalDump('sqlite', target)
  assert.deepEqual([dump.AdminUser.length, dump.Setting.length, dump.AuditLog.length], [0, 0, 0], 'nothing of either backup was kept')

  // The right file is back: Resume completes the install with it.
  await copyFile(original, file)
  const resumed = await client.post('/setup/resume', { _action: 'resume' })
  assert.match(text(resumed), /Installation complete/, text(resumed).match(/role="alert">([^<]*)/)?.[1])
  assert.match(text(resumed), /8 rows restored in 3 tables/)
})

test('one upload per session: two sessions never share a file; a new upload, Discard and a restart remove the old ones', async t => {
  const { file } = await makeBackup(t)
  const { readFile: read } = await import('node:fs/promises')
  const bytes = await read(file)
  const { app, dir } = await build(t)
  const uploads = async () => (await readdir(path.join(dir, 'data'))).filter(f => f.startsWith('restore-upload')).sort()
  const upload = async (client: Client) => {
    const res = await client.request({ method: 'POST', url: '/setup/restore/upload', payload: bytes, headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': client.csrfToken() ?? '' } })
    assert.equal(res.statusCode, 200, res.body)
  }
  const a = await authorizedClient(app)
  const b = await authorizedClient(app)
  for (const client of [a, b]) {
    await walkToRestore(client, dir)
    await client.get('/setup/restore')
  }
  await upload(a)
  const [fileA] = await uploads()
  await upload(b)
  assert.equal((await uploads()).length, 2, 'each session has its own file')
  const fileB = (await uploads()).find(f => f !== fileA)!
  // A's second upload replaces A's first, and leaves B's alone.
  await upload(a)
  const now = await uploads()
  assert.equal(now.length, 2)
  assert.ok(!now.includes(fileA) && now.includes(fileB))
  // B discards: B's file goes.
  const discard = await b.post('/setup/restore', { _action: 'discard' })
  assert.ok([200, 303].includes(discard.statusCode), String(discard.statusCode))
  assert.ok(!(await uploads()).includes(fileB))
  assert.equal((await uploads()).length, 1)
  // A restart (wizard sessions are in memory): nothing holds A's upload any more, it is removed at start-up.
  await app.close()
  await build(t, { dir })
  assert.deepEqual(await uploads(), [])
})
