// Many servers with one command: three fresh servers (`npm start`, PORT=0) replayed at once from a --servers
// file, one of them pointed at a PostgreSQL that refuses connections: it fails at the database step, the two
// others reach normal mode, and the table, the JSON report (--report json) and the exit code all say so.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { chromiumPath } from '../helpers/services.ts'
import { freshServer, runReplay as replayCli, writeAnswers } from '../helpers/server.ts'
import { refusedPort } from '../helpers/net.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { FleetReport } from '../../server/replay/report.ts'

const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'
const STEPS = ['token', 'language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize', 'login']

test('three servers at once, one failing at the database step: the others install, the table, the JSON report and the exit code say so', { timeout: 600_000 }, async t => {
  const browser = chromiumPath(t)
  if (!browser) return
  const [a, b, c] = await Promise.all([freshServer(t, browser), freshServer(t, browser), freshServer(t, browser)])
  const dir = await tempDir(t)
  const admin = { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
  // The shared answers: each server's SQLite file under its own working directory (a relative path).
  const answers = await writeAnswers(dir, { language: 'en', database: { provider: 'sqlite', file: 'data/app.db' }, cache: { backend: 'memory' }, admin })
  const port = await refusedPort()
  await writeFile(path.join(dir, 'unreachable.json'), JSON.stringify({
    version: 1, language: 'en', restore: null, cache: { backend: 'memory' }, admin,
    database: { provider: 'postgresql', host: '127.0.0.1', port, user: 'amorce', password: '${DB_PASSWORD}', database: 'amorce', ssl: 'off' }
  }))
  const tokenOf = async (s: typeof a) => (await readFile(path.join(s.env.DATA_DIR!, 'setup-token'), 'utf8')).trim()
  await writeFile(path.join(dir, 'token-b'), await tokenOf(b), { mode: 0o600 })
  // The three ways a servers file gives a token: a local data directory, a token file, a ${NAME}.
  await writeFile(path.join(dir, 'servers.json'), JSON.stringify([
    { url: a.server.url, dataDir: a.env.DATA_DIR },
    { url: b.server.url, tokenFile: 'token-b', name: 'second' },
    { url: c.server.url, token: '${TOKEN_C}', answers: 'unreachable.json' }
  ]))
  const secrets = { ADMIN_PASSWORD: PASSWORD, DB_PASSWORD: 'Sel-Poivre-Muscade-42', TOKEN_C: await tokenOf(c) }

  const run = await replayCli([answers, '--servers', path.join(dir, 'servers.json'), '--concurrency', '3', '--report', 'json'], { CHROMIUM_PATH: browser, AMORCE_LANG: 'en', ...secrets }, dir)
  assert.equal(run.code, 1, `one server failed: exit 1\n${run.stderr}`)

  // stdout is the report alone.
  const report = JSON.parse(run.stdout) as FleetReport
  assert.equal(report.ok, false)
  assert.deepEqual(report.servers.map(s => [s.name, s.url, s.status, s.failedStep]), [
    [a.server.url, a.server.url, 'ok', null],
    ['second', b.server.url, 'ok', null],
    [c.server.url, c.server.url, 'failed', 'database']
  ])
  for (const s of report.servers.slice(0, 2)) {
    assert.deepEqual(s.steps.map(x => [x.name, x.status, x.messageKey, x.message]), STEPS.map(name => [name, 'ok', null, null]))
    for (const step of s.steps) assert.ok(step.seconds > 0 && step.seconds < s.seconds, `${step.name}: ${step.seconds} s`)
  }
  const failed = report.servers[2]
  assert.deepEqual(failed.steps.map(x => [x.name, x.status]), [['token', 'ok'], ['language', 'ok'], ['prerequisites', 'ok'], ['database', 'failed']])
  assert.equal(failed.messageKey, 'setup.database.causes.refused')
  assert.equal(failed.steps[3].messageKey, 'setup.database.causes.refused')
  assert.ok(failed.message?.includes(`Nothing accepts connections at 127.0.0.1:${port}.`), failed.message ?? '')
  assert.ok(report.seconds >= Math.max(...report.servers.map(s => s.seconds)))

  // The person's lines and the table are on stderr.
  const table = run.stderr.slice(run.stderr.lastIndexOf('\nServer'))
  const row = (name: string) => table.split('\n').find(l => l.startsWith(name + ' ')) ?? ''
  assert.match(table, /\nServer +Outcome +Failed step +Message +Time\n/)
  assert.match(row(a.server.url), /^\S+ +installed +— +— +\d+\.\d s$/)
  assert.match(row('second'), /^second +installed +— +— +\d+\.\d s$/)
  assert.match(row(c.server.url), new RegExp(`^\\S+ +failed +database +Nothing accepts connections at 127\\.0\\.0\\.1:${port}\\. +\\d+\\.\\d s$`))
  assert.match(table, /3 servers: 2 installed, 1 failed, in \d+\.\d s\./)
  assert.match(run.stderr, new RegExp(`\\[second\\] +✓ login`))
  for (const text of [run.stdout, run.stderr]) {
    for (const secret of Object.values(secrets)) assert.ok(!text.includes(secret), 'no password nor token is printed')
  }

  // The servers say the same: two in normal mode, the third still in its wizard.
  for (const s of [a, b]) {
    const health = await fetch(`${s.server.url}/health`)
    assert.equal(health.status, 200, s.server.output())
    assert.equal((await fetch(`${s.server.url}/setup`, { redirect: 'manual' })).status, 404)
  }
  assert.equal((await fetch(`${c.server.url}/setup/token`)).status, 200, 'the failed server is still in setup mode')
  t.diagnostic(`three servers: ${report.seconds} s (${report.servers.map(s => `${s.status} ${s.seconds} s`).join(', ')})`)
})
