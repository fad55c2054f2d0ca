// The end of a many-server replay: the key of a page's message found back from its text, the localized table,
// and the JSON report's verdict.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { translator } from '../../../server/i18n.ts'
import { fleetReport, messageIndex, renderTable, type ServerOutcome } from '../../../server/replay/report.ts'

test('a page message\'s key: the line that says something of its own, its placeholders matching any text', () => {
  const en = messageIndex('en')
  assert.deepEqual(en('Some answers need your attention:\nNothing accepts connections at db.internal:5433.\nCheck the port and that the database server is running.'),
    { key: 'setup.database.causes.refused', line: 'Nothing accepts connections at db.internal:5433.' })
  assert.deepEqual(en('This token is not the one printed by the server. Copy it again from the console or from the setup-token file.'),
    { key: 'setup.token.errors.invalid', line: 'This token is not the one printed by the server. Copy it again from the console or from the setup-token file.' })
  // Only the announcing title: that is still a key.
  assert.equal(en('Some answers need your attention:')?.key, 'common.fixErrors')
  assert.equal(en('expected /setup/cache, got /setup/database'), null, 'a driver\'s own words have no key')
  const fr = messageIndex('fr')
  const refused = translator('fr')('setup.database.causes.refused', { host: 'h', port: 1 })
  assert.equal(fr(`${translator('fr')('common.fixErrors')}\n${refused}`)?.key, 'setup.database.causes.refused')
})

const outcome = (name: string, status: 'ok' | 'failed', seconds: number, failed?: { step: string, message: string, key: string }): ServerOutcome => ({
  name,
  url: name,
  status,
  seconds,
  failedStep: failed?.step ?? null,
  messageKey: failed?.key ?? null,
  message: failed?.message ?? null,
  screenshot: null,
  steps: []
})

test('the table: a row per server with outcome, failed step, message and time, aligned, then the counts', () => {
  const report = fleetReport([
    outcome('http://127.0.0.1:3001', 'ok', 31.24),
    outcome('http://127.0.0.1:3002', 'failed', 4.06, { step: 'database', key: 'setup.database.causes.refused', message: 'Nothing accepts connections at 127.0.0.1:1.\nCheck the port' }),
    outcome('http://b', 'ok', 9)
  ], 33.04)
  assert.equal(report.ok, false)
  const en = renderTable(report, translator('en')).split('\n')
  assert.deepEqual(en, [
    'Server                 Outcome    Failed step  Message                                        Time',
    '─────────────────────  ─────────  ───────────  ───────────────────────────────────────────  ──────',
    'http://127.0.0.1:3001  installed  —            —                                            31.2 s',
    'http://127.0.0.1:3002  failed     database     Nothing accepts connections at 127.0.0.1:1.   4.1 s',
    'http://b               installed  —            —                                             9.0 s',
    '3 servers: 2 installed, 1 failed, in 33.0 s.'
  ])
  const fr = renderTable(report, translator('fr')).split('\n')
  assert.match(fr[0], /^Serveur\s+Résultat\s+Étape en échec\s+Message\s+Durée$/)
  assert.match(fr[2], /installé\s+—\s+—\s+31,2 s$/)
  assert.match(fr[3], /en échec\s+database\s+Nothing accepts/)
  assert.equal(fr[5], '3 serveurs\u00a0: 2 installés, 1 en échec, en 33,0 s.')
  assert.equal(renderTable(fleetReport([outcome('a', 'ok', 1)], 1), translator('en')).split('\n').at(-1), '1 server: 1 installed, 0 failed, in 1.0 s.')
})

test('the JSON report: ok only when every server is', () => {
  assert.equal(fleetReport([outcome('a', 'ok', 1), outcome('b', 'ok', 2)], 2.345).ok, true)
  assert.equal(fleetReport([outcome('a', 'ok', 1), outcome('b', 'failed', 2, { step: 'cache', key: 'k', message: 'm' })], 2).ok, false)
  assert.equal(fleetReport([], 0).ok, true)
  assert.equal(fleetReport([outcome('a', 'ok', 1)], 2.345).seconds, 2.35)
})
