// "Something else is listening here": a database driver pointed at another protocol's port is stopped
// before it waits or misreads, and the test names what answered (MySQL for PostgreSQL and back, Redis,
// HTTP, SSH), at once; a CA file that holds no certificate is named as such. In English and French.
import assert from 'node:assert/strict'
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { probeDatabase, type ProbeResult } from '../../../server/db/probe.ts'
import { sniffService } from '../../../server/db/sniff.ts'
import type { ServerConnection, ServerProvider } from '../../../server/db/url.ts'
import { authorizedClient, build, text } from '../../helpers/app.ts'
import { adminConnection, requireServer } from '../../helpers/databases.ts'
import { tcpListener } from '../../helpers/net.ts'
import { requireRedis } from '../../helpers/redis.ts'
import { referenceSchema } from '../../../server/reference.ts'

/** Cases run: printed at the end for the report. */
let cases = 0
process.on('exit', () => { if (cases > 0) console.log(`# connection cases: ${cases}`) })

const conn = (provider: ServerProvider, port: number, extra: Partial<ServerConnection> = {}): ServerConnection =>
  ({ provider, host: '127.0.0.1', port, user: 'amorce', password: 'never-sent-Pw', database: 'amorce', tls: 'off', caFile: '', ...extra })

async function httpPort (t: TestContext): Promise<number> {
  const server = http.createServer((_req, res) => res.end('hello'))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return (server.address() as { port: number }).port
}

/** An SSH server's banner, as OpenSSH sends it on connecting. */
const sshPort = (t: TestContext) => tcpListener(t, socket => socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'))

function expectService (result: ProbeResult, ms: number, service: string, what: string) {
  cases++
  assert.equal(result.ok, false, what)
  assert.ok(!result.ok)
  assert.equal(result.cause, 'otherService', `${what}: ${JSON.stringify(result)}`)
  assert.equal(result.service, service, what)
  assert.ok(ms < 2000, `${what}: named in ${Math.round(ms)} ms, not after a timeout`)
}

async function timed (p: Promise<ProbeResult>): Promise<[ProbeResult, number]> {
  const started = performance.now()
  const r = await p
  return [r, performance.now() - started]
}

test('PostgreSQL driver at a MySQL port, MySQL driver at a PostgreSQL port: the other engine is named at once', async t => {
  if (!await requireServer(t, 'postgresql') || !await requireServer(t, 'mysql')) return
  const pg = adminConnection('postgresql')
  const my = adminConnection('mysql')
  expectService(...await timed(probeDatabase(conn('postgresql', my.port), { schema: referenceSchema })), 'mysql', 'postgresql → MySQL port')
  expectService(...await timed(probeDatabase(conn('mysql', pg.port), { schema: referenceSchema })), 'postgresql', 'mysql → PostgreSQL port')
})

test('either driver at Redis, HTTP or SSH: that protocol is named, quickly', async t => {
  const ports: Array<[string, number]> = [['http', await httpPort(t)], ['ssh', await sshPort(t)]]
  if (await requireRedis(t)) ports.push(['redis', 6379])
  for (const provider of ['postgresql', 'mysql'] as const) {
    for (const [service, port] of ports) expectService(...await timed(probeDatabase(conn(provider, port), { schema: referenceSchema })), service, `${provider} → ${service}`)
  }
})

test('the sniff recognizes each engine at its own port, so a right address is not refused', async t => {
  if (!await requireServer(t, 'postgresql') || !await requireServer(t, 'mysql')) return
  cases += 2
  assert.equal(await sniffService('127.0.0.1', adminConnection('postgresql').port), 'postgresql')
  assert.equal(await sniffService('127.0.0.1', adminConnection('mysql').port), 'mysql')
  const silent = await tcpListener(t)
  assert.equal(await sniffService('127.0.0.1', silent, { answerMs: 300 }), 'silent')
})

test('a CA file that is not a certificate (/etc/passwd, a directory, a device) is named as such', async t => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-ca-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  for (const provider of ['postgresql', 'mysql'] as const) {
    for (const caFile of ['/etc/passwd', dir, '/dev/zero']) {
      cases++
      const r = await probeDatabase(conn(provider, 1, { tls: 'verify', caFile }), { schema: referenceSchema })
      assert.ok(!r.ok && r.cause === 'caNotCertificate', `${provider} ${caFile}: ${JSON.stringify(r)}`)
    }
  }
})

test('the wizard names what answered, in English and French', { timeout: 60_000 }, async t => {
  if (!await requireServer(t, 'postgresql') || !await requireServer(t, 'mysql')) return
  const redis = await requireRedis(t)
  const web = await httpPort(t)
  const checks: Array<['en' | 'fr', Record<string, string>, string, string]> = [
    ['en', { provider: 'mysql', port: '5432' }, 'The service at 127.0.0.1:5432 is a PostgreSQL server, not MySQL / MariaDB.', 'MySQL / MariaDB usually listens on 3306'],
    ['fr', { provider: 'postgresql', port: '3306' }, 'Le service à 127.0.0.1:3306 est un serveur MySQL ou MariaDB, pas PostgreSQL.', 'PostgreSQL écoute d’habitude sur le port 5432'],
    ['fr', { provider: 'mysql', port: String(web) }, `Le service à 127.0.0.1:${web} est un serveur web (HTTP), pas MySQL / MariaDB.`, 'Vérifiez le port'],
    ['en', { provider: 'postgresql', port: '5432', tls: 'verify', caFile: '/etc/passwd' }, '/etc/passwd is not a certificate authority file: it holds no PEM certificate.', 'Give the PEM file'],
    ['fr', { provider: 'postgresql', port: '5432', tls: 'verify', caFile: '/etc/passwd' }, '/etc/passwd n’est pas un fichier d’autorité de certification : il ne contient aucun certificat PEM.', 'Indiquez le fichier PEM'],
    ...(redis
      ? [['fr', { provider: 'postgresql', port: '6379' }, 'Le service à 127.0.0.1:6379 est un serveur Redis, pas PostgreSQL.', 'Vérifiez le port'],
          ['en', { provider: 'mysql', port: '6379' }, 'The service at 127.0.0.1:6379 is a Redis server, not MySQL / MariaDB.', 'Check the port']] as Array<['en' | 'fr', Record<string, string>, string, string]>
      : [])
  ]
  for (const lang of ['en', 'fr'] as const) {
    const { app } = await build(t)
    const client = await authorizedClient(app)
    for (const [step, form] of [['language', { language: lang }], ['prerequisites', {}]] as const) {
      assert.equal((await client.post(`/setup/${step}`, { ...form, _action: 'next' })).statusCode, 303)
    }
    for (const [l, fields, cause, hint] of checks) {
      if (l !== lang) continue
      cases++
      const res = await client.post('/setup/database', { instances: 'single', host: '127.0.0.1', user: 'amorce', password: 'x', database: 'amorce', tls: 'off', caFile: '', url: '', ...fields, _action: 'test' })
      assert.equal(res.statusCode, 422)
      assert.ok(text(res).replace(/[\u00a0\u202f]/g, ' ').includes(cause), `${lang}: ${cause}\n${text(res).match(/role="alert"[\s\S]{0,500}/)?.[0]}`)
      assert.ok(text(res).includes(hint), `${lang}: ${hint}`)
    }
  }
})
