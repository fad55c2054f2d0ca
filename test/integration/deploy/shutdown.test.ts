// Process managers (systemd, Docker, Render, Passenger) stop the app with SIGTERM: a request in
// flight completes, then the process exits 0.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import path from 'node:path'
import { tempDir } from '../../helpers/tmp.ts'
import { startServer } from '../../helpers/server.ts'

test('SIGTERM during a slow request: the request completes, then the process exits 0', { timeout: 60_000 }, async t => {
  const dir = await tempDir(t)
  const server = await startServer(t, { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, dir)
  const { port } = new URL(server.url)
  const body = 'token=' + 'x'.repeat(2000)

  const response = new Promise<{ status: number, text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/setup/token', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, res => {
      let text = ''
      res.on('data', d => { text += d })
      res.on('end', () => resolve({ status: res.statusCode!, text }))
    })
    req.on('error', reject)
    // Half the body now, SIGTERM, the rest a moment later: the request is in flight during shutdown.
    req.write(body.slice(0, 1000))
    setTimeout(() => {
      server.child.kill('SIGTERM')
      setTimeout(() => req.end(body.slice(1000)), 500)
    }, 200)
  })
  const exited = new Promise<number | null>(resolve => server.child.once('exit', code => resolve(code)))
  const res = await response
  // Its real answer (refused: no CSRF token / wrong setup token), not a reset connection.
  assert.ok(res.status === 403 || res.status === 422, `status ${res.status}`)
  assert.match(res.text, /<title>[^<]*Amorce<\/title>/)
  const t0 = Date.now()
  assert.equal(await exited, 0)
  // Not a speed check: an idle keep-alive connection must not hold the exit until the client drops it (5 s).
  assert.ok(Date.now() - t0 < 3000, `exit ${Date.now() - t0} ms after the response`)
})
