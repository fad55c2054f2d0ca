// Two Amorce apps in one process (two buildApp calls on two data directories) share nothing: installing one
// leaves the other's install job, token, wrong-token counter, wizard state and mode untouched.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authorizedClient, build, Client, walkToFinalize } from '../../helpers/app.ts'
import { currentFinalize } from '../../../server/setup/finalize.ts'

test('two apps in one process: installing one does not change the other (job, token, limiter, state)', { timeout: 120_000 }, async t => {
  const a = await build(t)
  const b = await build(t)
  assert.notEqual(a.app.amorce.setup!.token, b.app.amorce.setup!.token, 'each app has its own token')
  const tokenB = b.app.amorce.setup!.token

  // A's own session is trusted first: its limiter below counts wrong tokens of new attempts only.
  const clientA = await authorizedClient(a.app)
  // Wrong tokens on A up to its limit: A refuses this client, B still takes its token from the same address.
  const intruder = new Client(a.app)
  for (let i = 0; i < 10; i++) assert.equal((await intruder.post('/setup/token', { token: `wrong-${i}` })).statusCode, 422)
  assert.equal((await intruder.post('/setup/token', { token: a.app.amorce.setup!.token })).statusCode, 429)
  const clientB = await authorizedClient(b.app)

  await walkToFinalize(clientA, a.dir)
  const install = await clientA.post('/setup/finalize', { _action: 'install' })
  assert.equal(install.statusCode, 200)
  assert.match(install.body, /install-done/)
  assert.equal(a.app.amorce.mode, 'normal')

  // B: still in setup, with no install job, the same token, and its own wizard at the first step.
  assert.equal(b.app.amorce.mode, 'setup')
  assert.equal(currentFinalize(b.app), undefined, 'B has no install job')
  assert.equal(currentFinalize(a.app)?.state, 'succeeded')
  assert.equal(b.app.amorce.setup!.token, tokenB)
  assert.notEqual(a.app.amorce.wizard, b.app.amorce.wizard)
  const page = await clientB.get('/setup')
  assert.equal(page.statusCode, 303)
  assert.equal(page.headers.location, '/setup/language')
  assert.equal((await clientB.get('/setup/install')).headers.location, '/setup', 'B has nothing to follow')
  // And B installs on its own afterwards.
  await walkToFinalize(clientB, b.dir)
  assert.match((await clientB.post('/setup/finalize', { _action: 'install' })).body, /install-done/)
  assert.equal(b.app.amorce.mode, 'normal')
})
