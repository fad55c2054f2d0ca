// A port already taken: one plain console line naming the port and how to choose another (PORT), exit 1,
// no JSON stack trace.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import path from 'node:path'
import { tempDir } from '../../helpers/tmp.ts'
import { runScript } from '../../helpers/server.ts'

test('a busy port: a clear line with the PORT hint, exit 1, no stack trace', { timeout: 60_000 }, async t => {
  const dir = await tempDir(t)
  const blocker = net.createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => blocker.close(() => resolve())))
  const port = (blocker.address() as net.AddressInfo).port
  const run = await runScript('server/main.ts', [], { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_OPTIONS: '' }, dir)
  assert.equal(run.code, 1, run.out)
  assert.match(run.out, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use by another program\\. .*PORT=${port + 1} npm start`))
  assert.doesNotMatch(run.out, /"stack"|EADDRINUSE|at Server\./, 'no stack trace')
})
