// Connection settings ⇄ DATABASE_URL: every password survives URL encoding both ways; pasted URLs of the usual
// shapes are read; TLS modes map to what pg and mariadb are given.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fc, runs } from '../../helpers/fuzz.ts'
import { DatabaseUrlError, redactUrl, type ServerConnection } from '../../../server/db/url.ts'
import { parseServerVersion, versionTooOld } from '../../../server/db/probe.ts'
import { buildDatabaseUrl, parseDatabaseUrl } from '../../../server/db/engines/index.ts'
import { mariadbConfig } from '../../../server/db/engines/mysql.ts'
import { pgConfig } from '../../../server/db/engines/postgresql.ts'
import { classifyPgError } from '../../../server/db/engines/postgresql.ts'
import { classifyMysqlError } from '../../../server/db/engines/mysql.ts'

const base: ServerConnection = { provider: 'postgresql', host: 'db.example.com', port: 5432, user: 'app', password: 'secret', database: 'amorce', tls: 'off', caFile: '' }

test('any user and password (URL-special characters, unicode, spaces) survive build → parse', () => {
  fc.assert(fc.property(
    fc.constantFrom('postgresql', 'mysql'), fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), fc.string({ maxLength: 60, unit: 'grapheme' }),
    fc.constantFrom('off', 'required', 'verify'),
    (provider, user, password, tls) => {
      const c: ServerConnection = { ...base, provider: provider as ServerConnection['provider'], user, password, tls: tls as ServerConnection['tls'], port: provider === 'mysql' ? 3306 : 5432 }
      assert.deepEqual(parseDatabaseUrl(buildDatabaseUrl(c)), c)
    }), { numRuns: runs(300) })
  const tricky = { ...base, password: 'p@ss:w/rd?#%&=+ é"\'' }
  assert.equal(parseDatabaseUrl(buildDatabaseUrl(tricky)).password, tricky.password)
})

test('pasted URLs: schemes, default ports, IPv6, libpq/MySQL/Prisma TLS parameters, Prisma\'s ?schema=', () => {
  assert.deepEqual(parseDatabaseUrl('postgres://u:p%40ss@localhost/app'), { ...base, host: 'localhost', user: 'u', password: 'p@ss', database: 'app' })
  assert.equal(parseDatabaseUrl('mariadb://u@h/app').provider, 'mysql')
  assert.equal(parseDatabaseUrl('mysql://u@h/app').port, 3306)
  assert.equal(parseDatabaseUrl('postgresql://u@[::1]:6543/app').host, '::1')
  assert.equal(parseDatabaseUrl('postgresql://u@h/app?sslmode=require').tls, 'required')
  assert.deepEqual([parseDatabaseUrl('postgresql://u@h/app?sslmode=verify-full&sslrootcert=/ca.pem')].map(c => [c.tls, c.caFile]), [['verify', '/ca.pem']])
  assert.equal(parseDatabaseUrl('mysql://u@h/app?ssl-mode=REQUIRED').tls, 'required')
  assert.equal(parseDatabaseUrl('mysql://u@h/app?sslaccept=strict&sslcert=/ca.pem').tls, 'verify')
  assert.equal(parseDatabaseUrl('postgresql://u@h/app?schema=amorce').schema, 'amorce')
  assert.match(buildDatabaseUrl({ ...base, schema: 'amorce' }), /\?schema=amorce&sslmode=disable$/)
  assert.equal(buildDatabaseUrl({ ...base, host: '::1' }), 'postgresql://app:secret@[::1]:5432/amorce?sslmode=disable')
  assert.equal(buildDatabaseUrl({ ...base, provider: 'mysql', port: 3306, tls: 'verify', caFile: '/ca.pem' }), 'mysql://app:secret@db.example.com:3306/amorce?sslaccept=strict&sslcert=%2Fca.pem')
  for (const [url, code] of [['nope', 'urlInvalid'], ['http://h/app', 'urlProtocol'], ['postgresql://u@h', 'urlDatabase'], ['postgresql://u@h/app?sslmode=sometimes', 'urlTls'], ['mysql://u:%E0%A4%A@h/app', 'urlInvalid']] as const) {
    assert.throws(() => parseDatabaseUrl(url), (err: unknown) => err instanceof DatabaseUrlError && err.code === code, url)
  }
  assert.equal(redactUrl('mysql://u:p%40ss@h/app'), 'mysql://u:***@h/app')
})

test('TLS modes as the drivers see them: off → none; required → encrypted, unverified; verify → verified', () => {
  assert.equal(pgConfig(base).ssl, false)
  assert.deepEqual(pgConfig({ ...base, tls: 'required' }).ssl, { rejectUnauthorized: false })
  assert.deepEqual(pgConfig({ ...base, tls: 'verify' }).ssl, { rejectUnauthorized: true })
  assert.equal('ssl' in mariadbConfig({ ...base, provider: 'mysql' }), false)
  assert.deepEqual(mariadbConfig({ ...base, provider: 'mysql', tls: 'required' }).ssl, { rejectUnauthorized: false })
  assert.throws(() => pgConfig({ ...base, tls: 'verify', caFile: '/nonexistent/ca.pem' }), /ENOENT/)
  assert.equal(pgConfig(base).connectionTimeoutMillis, 5000)
})

test('server versions and the minimums (PostgreSQL 13, MySQL 8.0, MariaDB 10.5)', () => {
  assert.deepEqual(parseServerVersion('15.20 (Debian 15.20-0+deb12u1)', 'postgresql'), { server: 'PostgreSQL', version: '15.20', parts: [15, 20] })
  assert.deepEqual(parseServerVersion('10.11.19-MariaDB-0+deb12u1', 'mysql'), { server: 'MariaDB', version: '10.11.19', parts: [10, 11, 19] })
  assert.deepEqual(parseServerVersion('5.5.5-10.4.32-MariaDB', 'mysql'), { server: 'MariaDB', version: '10.4.32', parts: [10, 4, 32] })
  assert.deepEqual(parseServerVersion('8.0.36', 'mysql'), { server: 'MySQL', version: '8.0.36', parts: [8, 0, 36] })
  assert.equal(versionTooOld('PostgreSQL', [12, 18]), '13.0')
  assert.equal(versionTooOld('PostgreSQL', [13, 0]), undefined)
  assert.equal(versionTooOld('MySQL', [5, 7, 44]), '8.0')
  assert.equal(versionTooOld('MySQL', [8, 4, 0]), undefined)
  assert.equal(versionTooOld('MariaDB', [10, 4, 32]), '10.5')
  assert.equal(versionTooOld('MariaDB', [11, 0]), undefined)
})

test('driver errors name their cause', () => {
  assert.equal(classifyPgError(Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' })), 'authFailed')
  assert.equal(classifyPgError(Object.assign(new Error('no pg_hba.conf entry for host "1.2.3.4", user "x", database "y", no encryption'), { code: '28000' })), 'hostDenied')
  assert.equal(classifyPgError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })), 'tlsInvalid')
  assert.equal(classifyPgError(Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })), 'tlsInvalid')
  assert.equal(classifyMysqlError(Object.assign(new Error('Connections using insecure transport are prohibited while --require_secure_transport=ON.'), { errno: 3159 })), 'tlsRequired')
  assert.equal(classifyMysqlError(Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' })), 'unreachable')
  assert.equal(classifyMysqlError(new Error('something else')), 'unknown')
})
