// Moving an install end to end: a server installed by a replay is backed up with `npm run backup`, then a fresh
// server is installed by a replay that uploads that backup and keeps its accounts; the old administrator signs in
// on the new server and the old server's rows are there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createClient } from '@libsql/client'
import { tempDir } from '../helpers/tmp.ts'
import { chromiumPath } from '../helpers/services.ts'
import { startServer, runScript } from '../helpers/server.ts'

const OLD_PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'


async function sqlite<T> (file: string, fn: (db: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const db = createClient({ url: `file:${file}` })
  try {
    return await fn(db)
  } finally {
    db.close()
  }
}

test('replay with restore.file and admin.keepRestored: the old account signs in on the new server and the old rows are there; restore.path adds a new admin', { timeout: 600_000 }, async t => {
  const browser = chromiumPath(t)
  if (!browser) return

  // The old server: installed by a replay, then given a row of its own.
  const oldDir = await tempDir(t)
  const oldEnv = { DATA_DIR: path.join(oldDir, 'data'), ENV_FILE: path.join(oldDir, '.env'), CHROMIUM_PATH: browser }
  const oldServer = await startServer(t, oldEnv, oldDir)
  await writeFile(path.join(oldDir, 'answers.json'), JSON.stringify({
    version: 1,
    language: 'en',
    database: { provider: 'sqlite', file: 'data/app.db' },
    cache: { backend: 'memory' },
    restore: null,
    admin: { username: 'ancienne', email: 'ancienne@example.com', password: '${ADMIN_PASSWORD}' }
  }))
  const first = await runScript('server/replay/cli.ts', ['answers.json', '--url', oldServer.url], { ...oldEnv, ADMIN_PASSWORD: OLD_PASSWORD }, oldDir)
  assert.equal(first.code, 0, first.out)
  const oldDb = path.join(oldDir, 'data/app.db')
  await sqlite(oldDb, db => db.execute({ sql: 'INSERT INTO "Setting" (key, value, "updatedAt") VALUES (?, ?, ?)', args: ['e2e:marker', 'written on the old server', '2026-03-04T05:06:07.089+00:00'] }))
  const oldAudit = await sqlite(oldDb, async db => (await db.execute('SELECT id, event, detail FROM "AuditLog" ORDER BY id')).rows.map(r => ({ ...r })))
  assert.ok(oldAudit.some(r => r.event === 'install.completed'), 'the old install wrote its audit row')

  // `npm run backup` on the old server, written straight into the new server's working directory.
  const newDir = await tempDir(t)
  const backup = await runScript('server/backup/cli.ts', ['--out', path.join(newDir, 'old-server.tar.gz')], oldEnv, oldDir)
  assert.equal(backup.code, 0, backup.out)
  assert.match(backup.out, /Backup written to .*old-server\.tar\.gz: 3 tables/)
  assert.equal(await oldServer.stop('SIGTERM'), 0)

  // The second and the third server each install from that backup on their own: both at once.
  const onNewServer = async () => {
    // The new server: a replay in French uploads the backup (a path relative to the replay's cwd) and keeps the accounts.
    const newEnv = { DATA_DIR: path.join(newDir, 'data'), ENV_FILE: path.join(newDir, '.env'), CHROMIUM_PATH: browser }
    const newServer = await startServer(t, newEnv, newDir)
    await writeFile(path.join(newDir, 'answers.json'), JSON.stringify({
      version: 1,
      language: 'fr',
      database: { provider: 'sqlite', file: 'data/nouvelle.db' },
      cache: { backend: 'filesystem', dir: 'data/cache' },
      restore: { file: 'old-server.tar.gz' },
      admin: { keepRestored: true, username: 'ancienne', password: '${OLD_PASSWORD}' }
    }))
    const second = await runScript('server/replay/cli.ts', ['answers.json', '--url', newServer.url], { ...newEnv, OLD_PASSWORD }, newDir)
    assert.equal(second.code, 0, second.out)
    // The login step signs in with the old account and reaches the dashboard.
    for (const step of ['restore', 'admin', 'finalize', 'login']) assert.match(second.out, new RegExp(`✓ ${step}\\s+\\d+\\.\\d+ s`), `a line for ${step}`)
    assert.ok(!second.out.includes(OLD_PASSWORD), 'the password is never printed')

    assert.equal((await fetch(`${newServer.url}/setup`, { redirect: 'manual' })).status, 404, 'normal mode')
    const health = await fetch(`${newServer.url}/health`)
    assert.deepEqual(await health.json(), { status: 'ok', db: 'ok', cache: 'ok' })

    const newDb = path.join(newDir, 'data/nouvelle.db')
    await sqlite(newDb, async db => {
      const admins = (await db.execute('SELECT username, email FROM "AdminUser"')).rows.map(r => ({ ...r }))
      assert.deepEqual(admins, [{ username: 'ancienne', email: 'ancienne@example.com' }], 'only the restored account: no new one')
      const marker = (await db.execute({ sql: 'SELECT value FROM "Setting" WHERE key = ?', args: ['e2e:marker'] })).rows
      assert.equal(marker[0]?.value, 'written on the old server')
      const audit = (await db.execute('SELECT id, event, detail FROM "AuditLog" ORDER BY id')).rows.map(r => ({ ...r }))
      assert.deepEqual(audit.slice(0, oldAudit.length), oldAudit, 'every old audit row, same ids, same content')
      const installs = audit.slice(oldAudit.length).filter(r => r.event === 'install.completed')
      assert.equal(installs.length, 1, 'the new install recorded itself after the restored rows')
      assert.equal(JSON.parse(String(installs[0].detail)).restored, true)
      // The wizard's claim row of the old install does not travel: this install kept restored accounts.
      assert.equal((await db.execute("SELECT count(*) AS n FROM \"Setting\" WHERE key = 'wizard:admin'")).rows[0].n, 0)
    })
    assert.ok(!newServer.output().includes(OLD_PASSWORD), 'the password is never logged')
  }
  const onThirdServer = async () => {
    // A third server: the backup is already on it (restore.path, relative to its DATA_DIR) and a new administrator
    // is added beside the restored one, then signs in.
    const thirdDir = await tempDir(t)
    const thirdEnv = { DATA_DIR: path.join(thirdDir, 'data'), ENV_FILE: path.join(thirdDir, '.env'), CHROMIUM_PATH: browser }
    await mkdir(thirdEnv.DATA_DIR)
    await copyFile(path.join(newDir, 'old-server.tar.gz'), path.join(thirdEnv.DATA_DIR, 'copied.tar.gz'))
    const thirdServer = await startServer(t, thirdEnv, thirdDir)
    await writeFile(path.join(thirdDir, 'answers.json'), JSON.stringify({
      version: 1,
      language: 'en',
      database: { provider: 'sqlite', file: 'data/third.db' },
      cache: { backend: 'memory' },
      restore: { path: 'copied.tar.gz' },
      admin: { username: 'nouvelle', email: 'nouvelle@example.com', password: '${NEW_PASSWORD}' }
    }))
    const NEW_PASSWORD = 'Brouette-Comete-Nenuphar-42'
    const third = await runScript('server/replay/cli.ts', ['answers.json', '--url', thirdServer.url], { ...thirdEnv, NEW_PASSWORD }, thirdDir)
    assert.equal(third.code, 0, third.out)
    assert.match(third.out, /✓ login\s/)
    await sqlite(path.join(thirdDir, 'data/third.db'), async db => {
      const admins = (await db.execute('SELECT username FROM "AdminUser" ORDER BY id')).rows.map(r => r.username)
      assert.deepEqual(admins, ['ancienne', 'nouvelle'])
    })
  }
  await Promise.all([onNewServer(), onThirdServer()])
})
