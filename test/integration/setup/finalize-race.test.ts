// Finalize under concurrency: two install requests at once (same session, two sessions with
// different administrators) run one install; the admin claim keeps "at most one wizard admin"
// even for two processes racing on the same database.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { createClient } from '@libsql/client'
import { authorizedClient, build, STRONG_PASSWORD, walkToFinalize } from '../../helpers/app.ts'
import { createWizardAdmin } from '../../../server/setup/finalize.ts'
import { adminStore } from '../../../server/app/admin-store.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { migrate } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'

async function admins (file: string): Promise<string[]> {
  const db = createClient({ url: `file:${file}` })
  try {
    return (await db.execute('SELECT username FROM AdminUser ORDER BY id')).rows.map(r => String(r.username))
  } finally {
    db.close()
  }
}

test('a double click (two install requests of one session) runs one install; both show its progress', async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await walkToFinalize(client, dir)
  const [a, b] = await Promise.all([client.post('/setup/finalize', { _action: 'install' }), client.post('/setup/finalize', { _action: 'install' })])
  for (const res of [a, b]) {
    assert.equal(res.statusCode, 200)
    assert.match(res.body, /data-stage="admin" data-status="done"/)
    assert.match(res.body, /install-done/)
  }
  assert.deepEqual(await admins(path.join(dir, 'data', 'app.db')), ['admin'])
  const migrations = createClient({ url: `file:${path.join(dir, 'data', 'app.db')}` })
  t.after(() => migrations.close())
  assert.equal((await migrations.execute('SELECT count(*) AS n FROM _prisma_migrations')).rows[0].n, 1)
})

test('two sessions with two different administrators installing at once: one install, one admin', async t => {
  const { app, dir } = await build(t)
  const first = await authorizedClient(app)
  const second = await authorizedClient(app)
  await walkToFinalize(first, dir)
  await walkToFinalize(second, dir)
  // The second session names another administrator.
  const other = await second.post('/setup/admin', { username: 'intruder', email: 'intruder@example.com', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD, _action: 'next' })
  assert.equal(other.statusCode, 303)
  const [a, b] = await Promise.all([first.post('/setup/finalize', { _action: 'install' }), second.post('/setup/finalize', { _action: 'install' })])
  for (const res of [a, b]) {
    assert.equal(res.statusCode, 200)
    assert.match(res.body, /install-done/, 'the second request follows the first install to its end')
  }
  // Exactly one ran: its administrator is the only account, and each stage ran once.
  assert.deepEqual(await admins(path.join(dir, 'data', 'app.db')), ['admin'])
  for (const res of [a, b]) assert.equal(res.body.match(/data-stage="admin" data-status="done"/g)?.length, 1)
  // Afterwards, a third request finds setup closed.
  assert.equal((await first.post('/setup/finalize', { _action: 'install' })).statusCode, 404)
})

test('the admin claim: concurrent creations with different usernames leave exactly one administrator', async t => {
  const dir = await tempDir(t)
  const url = `file:${path.join(dir, 'race.db')}`
  await migrate({ provider: 'sqlite', migrationsDir: referenceSchema.migrationsDir('sqlite'), url })
  const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
  const outcomes = await Promise.all(names.map(n => createWizardAdmin('sqlite', url, { username: n, email: `${n}@example.com`, passwordHash: hash }, 'en', {}, { schema: referenceSchema, admin: adminStore })))
  const rows = await admins(path.join(dir, 'race.db'))
  assert.equal(rows.length, 1, `admins: ${rows.join(', ')}`)
  assert.equal(outcomes.filter(o => o.created).length, 1)
  assert.ok(outcomes.every(o => o.username === rows[0]), 'every loser is told who won')
  // Resuming with the winner's username updates the same row; another username is kept out.
  assert.deepEqual(await createWizardAdmin('sqlite', url, { username: rows[0], email: 'new@example.com', passwordHash: hash }, 'fr', {}, { schema: referenceSchema, admin: adminStore }), { created: true, username: rows[0] })
  assert.deepEqual(await createWizardAdmin('sqlite', url, { username: 'zed', email: 'zed@example.com', passwordHash: hash }, 'en', {}, { schema: referenceSchema, admin: adminStore }), { created: false, username: rows[0] })
  assert.deepEqual(await admins(path.join(dir, 'race.db')), [rows[0]])
})
