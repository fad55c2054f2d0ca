// Issue 13's memory goal: the password strength dictionaries (a worker holding some 70 MB) are loaded while
// the admin step is on screen and given back as soon as its password is accepted, not after an idle time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { passwordCheckLoaded, releasePasswordCheck } from '../../../server/auth/password.ts'
import { authorizedClient, build, STRONG_PASSWORD } from '../../helpers/app.ts'

test('the admin page loads the strength checker; a refused password keeps it, an accepted one releases it', async t => {
  const { app, dir } = await build(t)
  t.after(() => releasePasswordCheck())
  const client = await authorizedClient(app)
  for (const [s, f] of [['language', { language: 'en' }], ['prerequisites', {}], ['database', { provider: 'sqlite', file: path.join(dir, 'app.db') }], ['cache', { backend: 'memory' }], ['restore', { mode: 'fresh' }]] as const) {
    assert.equal((await client.post(`/setup/${s}`, { ...f, _action: 'next' })).statusCode, 303)
  }
  await releasePasswordCheck()
  assert.equal((await client.get('/setup/admin')).statusCode, 200)
  assert.equal(passwordCheckLoaded(), true, 'the admin page starts loading the dictionaries')

  const weak = await client.post('/setup/admin', { username: 'admin', email: 'admin@example.com', password: 'password123', confirm: 'password123', _action: 'next' })
  assert.equal(weak.statusCode, 422)
  assert.equal(passwordCheckLoaded(), true, 'still there for the next attempt')

  const accepted = await client.post('/setup/admin', { username: 'admin', email: 'admin@example.com', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD, _action: 'next' })
  assert.equal(accepted.statusCode, 303)
  assert.equal(accepted.headers.location, '/setup/finalize')
  assert.equal(passwordCheckLoaded(), false, 'released once the password is accepted')

  // Coming back to the step loads them again.
  assert.equal((await client.get('/setup/admin')).statusCode, 200)
  assert.equal(passwordCheckLoaded(), true)
})
