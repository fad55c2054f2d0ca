// The engine contract (server/db/engines/engine.ts), checked for every engine of the index: one id each, its label
// in both languages, its URL round trip (server engines) or file URL (file engines), its _prisma_migrations DDL,
// and its table of driver errors → causes. A new engine gets its row in each table below.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../../server/config/config.ts'
import { buildDatabaseUrl, DEFAULT_PORTS, engineOf, ENGINES, isProvider, parseDatabaseUrl, PROVIDERS, SERVER_PROVIDERS } from '../../../server/db/engines/index.ts'
import type { ProbeCause } from '../../../server/db/engines/engine.ts'
import { MIGRATIONS_TABLE_DDL } from '../../../server/db/migrate.ts'
import type { ServerConnection, TlsMode } from '../../../server/db/url.ts'

const root = path.resolve(import.meta.dirname, '../../..')

/** What each engine must classify: a driver error as that driver raises it → the cause the wizard names. */
const ERROR_TABLES: Record<string, Array<[unknown, ProbeCause]>> = {
  sqlite: [
    [Object.assign(new Error('SQLITE_BUSY: database is locked'), { code: 'SQLITE_BUSY' }), 'unknown']
  ],
  postgresql: [
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'refused'],
    [Object.assign(new Error('getaddrinfo ENOTFOUND db.invalid'), { code: 'ENOTFOUND' }), 'dns'],
    [Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' }), 'unreachable'],
    [new Error('Connection terminated due to connection timeout'), 'timeout'],
    [Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'tlsInvalid'],
    [new Error('The server does not support SSL connections'), 'tlsUnsupported'],
    [Object.assign(new Error('no pg_hba.conf entry for host "10.0.0.1", user "app", database "app", no encryption'), { code: '28000' }), 'hostDenied'],
    [Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }), 'authFailed'],
    [Object.assign(new Error('database "app" does not exist'), { code: '3D000' }), 'databaseMissing'],
    [Object.assign(new Error('permission denied for database app'), { code: '42501' }), 'databaseDenied'],
    [new Error('something else entirely'), 'unknown']
  ],
  mysql: [
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' }), 'refused'],
    [Object.assign(new Error('getaddrinfo EAI_AGAIN db'), { code: 'EAI_AGAIN' }), 'dns'],
    [Object.assign(new Error('Connections using insecure transport are prohibited'), { errno: 3159 }), 'tlsRequired'],
    [Object.assign(new Error('server does not support SSL'), { errno: 45023 }), 'tlsUnsupported'],
    [Object.assign(new Error('Access denied for user \'app\'@\'localhost\''), { errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' }), 'authFailed'],
    [Object.assign(new Error('Unknown database \'app\''), { errno: 1049, code: 'ER_BAD_DB_ERROR' }), 'databaseMissing'],
    [Object.assign(new Error('Access denied for user to database \'app\''), { errno: 1044, code: 'ER_DBACCESS_DENIED_ERROR' }), 'databaseDenied'],
    [new Error('something else entirely'), 'unknown']
  ]
}

function lookup (tree: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], tree)
}

test('the index is the one list: ids unique, every derived list and check agrees with it', async t => {
  assert.deepEqual(PROVIDERS, ENGINES.map(e => e.id))
  assert.equal(new Set(PROVIDERS).size, PROVIDERS.length)
  assert.deepEqual(SERVER_PROVIDERS, ENGINES.filter(e => e.kind === 'server').map(e => e.id))
  assert.deepEqual(Object.keys(MIGRATIONS_TABLE_DDL), PROVIDERS)
  for (const engine of ENGINES) {
    assert.equal(engineOf(engine.id), engine)
    assert.ok(isProvider(engine.id))
    if (engine.kind === 'server') assert.equal(DEFAULT_PORTS[engine.id as keyof typeof DEFAULT_PORTS], engine.defaultPort)
  }
  assert.equal(isProvider('oracle'), false)
  assert.throws(() => engineOf('oracle'), /not supported/)
  // DATABASE_PROVIDER accepts exactly these ids, and says so.
  for (const id of PROVIDERS) assert.equal((await loadConfig({ DATABASE_PROVIDER: id }, root)).values.databaseProvider, id)
  await assert.rejects(loadConfig({ DATABASE_PROVIDER: 'oracle' }, root), (error: Error) => error.message.includes(PROVIDERS.join(', ')))
  // Each engine has its table of errors in this test.
  assert.deepEqual(Object.keys(ERROR_TABLES).sort(), [...PROVIDERS].sort())
  t.diagnostic(`engines: ${PROVIDERS.join(', ')}`)
})

test('every engine names itself in both languages (setup/database.json)', async () => {
  for (const lang of ['en', 'fr']) {
    const texts = { setup: { database: JSON.parse(await readFile(path.join(root, 'locales', lang, 'setup', 'database.json'), 'utf8')) } }
    for (const engine of ENGINES) assert.equal(typeof lookup(texts, engine.labelKey), 'string', `${lang}: ${engine.labelKey}`)
  }
})

for (const engine of ENGINES) {
  test(`${engine.id}: _prisma_migrations DDL, client adapter from the app's schema`, async () => {
    assert.match(engine.migration.tableDdl, /^CREATE TABLE "?_prisma_migrations"? \(/)
    for (const column of ['id', 'checksum', 'finished_at', 'migration_name', 'logs', 'rolled_back_at', 'started_at', 'applied_steps_count']) {
      assert.match(engine.migration.tableDdl, new RegExp(`\\b${column}\\b`), column)
    }
    // The client class comes from the app's schema, for this engine's id: no engine knows an app's clients.
    const asked: string[] = []
    class FakeClient { constructor (readonly options: { adapter: unknown }) {} }
    const url = engine.kind === 'file' ? engine.fileUrl('/tmp/amorce-engine-contract.db') : buildDatabaseUrl({ provider: engine.id as ServerConnection['provider'], host: '127.0.0.1', port: engine.defaultPort, user: 'u', password: 'p', database: 'd', tls: 'off', caFile: '' })
    const client = await engine.createClient({ client: async provider => { asked.push(provider); return FakeClient } }, url) as FakeClient
    assert.deepEqual(asked, [engine.id])
    assert.ok(client instanceof FakeClient && client.options.adapter !== undefined)
  })

  test(`${engine.id}: driver errors → causes`, () => {
    for (const [error, cause] of ERROR_TABLES[engine.id]) assert.equal(engine.classifyError(error), cause, (error as Error).message)
  })

  if (engine.kind === 'file') {
    test(`${engine.id}: file URL round trip`, () => {
      for (const file of ['/srv/app/data/app.db', '/tmp/with space/é.db']) assert.equal(engine.filePath(engine.fileUrl(file)), file)
      assert.equal(engine.migration.exists(engine.fileUrl('/nonexistent/amorce/none.db')), false)
    })
  } else {
    test(`${engine.id}: URL round trip for every TLS mode and awkward credentials; its schemes and default port`, () => {
      for (const tls of ['off', 'required', 'verify'] as TlsMode[]) {
        for (const [user, password] of [['app', 'secret'], ['ü s@r', 'p@ss:w/rd?#%&=+ é"\'']]) {
          const c: ServerConnection = { provider: engine.id as ServerConnection['provider'], host: 'db.example.com', port: 6000, user, password, database: 'amorce', tls, caFile: tls === 'verify' ? '/etc/ssl/ca.pem' : '' }
          const url = buildDatabaseUrl(c)
          assert.ok(url.startsWith(engine.protocols[0] + '//'), url)
          assert.deepEqual(parseDatabaseUrl(url), c, url)
        }
      }
      for (const protocol of engine.protocols) {
        const parsed = parseDatabaseUrl(`${protocol}//u@h/app`)
        assert.equal(parsed.provider, engine.id)
        assert.equal(parsed.port, engine.defaultPort)
      }
    })
  }
}
