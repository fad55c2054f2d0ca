// The `.env` location cannot be written at install time: the page shows the generated file (token
// holders only), offers it as a download, and goes on once the file placed by hand matches.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import dotenv from 'dotenv'
import { authorizedClient, build, Client, text, walkToFinalize } from '../../helpers/app.ts'

test('an unwritable .env location: shown, downloadable, checked once placed, then the install goes on', async t => {
  const { app, dir } = await build(t, { env: {} })
  const envFile = path.join(dir, '.env')
  const client = await authorizedClient(app)
  await walkToFinalize(client, dir)
  // The location turns unwritable after the prerequisites were checked (a directory is in the way).
  await mkdir(envFile)

  const waiting = await client.post('/setup/finalize', { _action: 'install' })
  assert.equal(waiting.statusCode, 200)
  assert.match(waiting.body, /data-stage="env" data-status="waiting"/)
  assert.match(text(waiting), /Place the configuration file yourself/)
  const shown = text({ body: /<pre class="env-content" data-env-content>([\s\S]*?)<\/pre>/.exec(waiting.body)![1] })
  const entries = dotenv.parse(shown)
  assert.equal(entries.DATABASE_PROVIDER, 'sqlite')
  assert.ok(entries.SESSION_SECRET.length >= 32)
  assert.equal(entries.APP_INSTALLED_AT, undefined, 'not locked before the other stages ran')
  assert.equal(app.amorce.mode, 'setup')

  // The download is the same file, for the token holder only.
  const download = await client.get('/setup/install/env')
  assert.equal(download.statusCode, 200)
  assert.match(String(download.headers['content-disposition']), /attachment; filename="\.env"/)
  assert.equal(download.body, shown)
  const stranger = await new Client(app).get('/setup/install/env')
  assert.equal(stranger.statusCode, 303)
  assert.equal(stranger.headers.location, '/setup/token')

  // Another tab sees the same request, not a second install.
  const other = await client.get('/setup/install')
  assert.match(text(other), /Place the configuration file yourself/)

  // "I have placed it" before doing so, then with a wrong value: refused, naming the key, not the value.
  const early = await client.post('/setup/install/env', {})
  assert.match(text(early), /cannot be read by the server|There is no file/)
  await rmdir(envFile)
  await writeFile(envFile, shown.replace(/^SESSION_SECRET=.*$/m, 'SESSION_SECRET=something-else'))
  const wrong = await client.post('/setup/install/env', {})
  assert.match(text(wrong), /does not hold the generated value of SESSION_SECRET/)
  assert.ok(!wrong.body.includes('something-else'))
  assert.equal(app.amorce.mode, 'setup')

  await writeFile(envFile, shown, { mode: 0o600 })
  const done = await client.post('/setup/install/env', {})
  assert.match(done.body, /data-stage="env" data-status="done"/)
  assert.match(text(done), /Found in place at/)
  assert.match(done.body, /install-done/, done.body.slice(-500))
  assert.equal(app.amorce.mode, 'normal')
  const final = dotenv.parse(await readFile(envFile, 'utf8'))
  assert.equal(final.SESSION_SECRET, entries.SESSION_SECRET)
  assert.ok(final.APP_INSTALLED_AT)
})
