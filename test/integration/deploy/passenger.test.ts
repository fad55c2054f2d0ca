// cPanel's "Setup Node.js App" (Phusion Passenger) require()s a CommonJS startup file and passes
// the application URL's path in PASSENGER_BASE_URI: server/passenger.cjs must start the app as is.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { tempDir } from '../../helpers/tmp.ts'
import { repoRoot, startServer } from '../../helpers/server.ts'

test('server/passenger.cjs, loaded with require() as Passenger does, serves the wizard under PASSENGER_BASE_URI', { timeout: 60_000 }, async t => {
  const dir = await tempDir(t)
  const server = await startServer(t, { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), PASSENGER_BASE_URI: '/filamenta' }, dir,
    ['-e', `require(${JSON.stringify(path.join(repoRoot, 'server/passenger.cjs'))})`])
  assert.match(server.url, /\/filamenta$/)
  const health = await fetch(`${server.url}/health`)
  assert.deepEqual(await health.json(), { status: 'setup' })
  const root = await fetch(`${server.url}/`, { redirect: 'manual' })
  assert.equal(root.headers.get('location'), '/filamenta/setup')
  assert.equal(await server.stop('SIGTERM'), 0)
})
