// The connection test against the real servers: every cause the wizard names is produced for real, on PostgreSQL
// and on MySQL/MariaDB, each test with its own databases and roles (dropped afterwards).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createServerDatabase, probeDatabase, type ProbeResult } from '../../../server/db/probe.ts'
import { migrate } from '../../../server/db/migrate.ts'
import { type ServerConnection, type ServerProvider } from '../../../server/db/url.ts'
import { refusedPort, tcpListener } from '../../helpers/net.ts'
import {
  adminConnection, adminQuery, createDatabase, createRole, dropAfter, requireServer, uniqueName
} from '../../helpers/databases.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { buildDatabaseUrl } from '../../../server/db/engines/index.ts'

/** Whether pg_hba.conf lets 127.0.0.1 in without a password (then no password can be wrong). */
async function trustsLocalhost (): Promise<boolean> {
  const rows = await adminQuery('postgresql', "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND (address IS NULL OR address = '127.0.0.1' OR address = 'all') ORDER BY line_number LIMIT 1") as Array<Array<{ auth_method: string }>>
  return rows[0][0]?.auth_method === 'trust'
}

function cause (result: ProbeResult): string {
  return result.ok ? `ok:${result.state}` : result.cause
}

for (const provider of ['postgresql', 'mysql'] as const satisfies readonly ServerProvider[]) {
  const admin = (): ServerConnection => ({ ...adminConnection(provider), tls: 'off', caFile: '' })

  test(`${provider}: an empty database with an able account is accepted, with the server's name and version`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    const result = await probeDatabase(db, { schema: referenceSchema })
    assert.equal(result.ok, true, JSON.stringify(result))
    assert.ok(result.ok)
    assert.equal(result.state, 'empty')
    assert.match(result.server, provider === 'postgresql' ? /PostgreSQL/ : /MySQL|MariaDB/)
    assert.match(result.version, /^\d+\.\d+/)
    // The privilege probe leaves nothing behind.
    const tables = provider === 'postgresql'
      ? await adminQuery(provider, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", db.database)
      : await adminQuery(provider, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.database}'`)
    assert.deepEqual(tables, [[]])
  })

  test(`${provider}: wrong port → refused`, async t => {
    if (!await requireServer(t, provider)) return
    assert.equal(cause(await probeDatabase({ ...admin(), port: await refusedPort() }, { schema: referenceSchema })), 'refused')
  })

  test(`${provider}: a listener that never answers → timeout, within the bound`, async t => {
    if (!await requireServer(t, provider)) return
    const port = await tcpListener(t)
    const started = Date.now()
    const result = await probeDatabase({ ...admin(), port }, { schema: referenceSchema, timeoutMs: 1500 })
    const elapsed = Date.now() - started
    assert.equal(cause(result), 'timeout')
    assert.ok(elapsed >= 1400 && elapsed < 4000, `answered in ${elapsed} ms`)
  })

  test(`${provider}: the default bound answers a silent server in about 5 s`, async t => {
    if (!await requireServer(t, provider)) return
    const port = await tcpListener(t)
    const started = Date.now()
    assert.equal(cause(await probeDatabase({ ...admin(), port }, { schema: referenceSchema })), 'timeout')
    assert.ok(Date.now() - started < 6500, `answered in ${Date.now() - started} ms`)
  })

  test(`${provider}: an unresolvable name (*.invalid) → dns`, async t => {
    if (!await requireServer(t, provider)) return
    assert.equal(cause(await probeDatabase({ ...admin(), host: 'amorce-db.invalid' }, { schema: referenceSchema })), 'dns')
  })

  test(`${provider}: wrong password → authFailed, and the password appears in no detail`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    const role = await createRole(t, provider, { allOn: [db.database] })
    const wrong = 'Not-The-Password-%@:/42'
    // The right password, with its URL-special characters, works.
    assert.equal(cause(await probeDatabase({ ...db, user: role.user, password: role.password }, { schema: referenceSchema })), 'ok:empty')
    if (provider === 'postgresql' && await trustsLocalhost()) {
      // A `trust` server accepts any password: the server refuses the account itself instead (NOLOGIN), which
      // is the same answer (SQLSTATE 28000/28P01) the wizard names "authentication failed".
      await adminQuery(provider, `ALTER ROLE "${role.user}" NOLOGIN`)
      t.diagnostic('this PostgreSQL trusts 127.0.0.1 (pg_hba.conf): a wrong password cannot fail here, a refused login is tested instead')
    }
    const result = await probeDatabase({ ...db, user: role.user, password: wrong }, { schema: referenceSchema })
    assert.equal(cause(result), 'authFailed')
    assert.ok(!JSON.stringify(result).includes(wrong))
  })

  test(`${provider}: a missing database is named, "Create it" is offered to an able account, creates it, and it tests fine`, async t => {
    if (!await requireServer(t, provider)) return
    const name = uniqueName()
    dropAfter(t, provider, name)
    const role = await createRole(t, provider, { createdb: true, allOn: provider === 'mysql' ? [name] : [] })
    const target: ServerConnection = { ...admin(), user: role.user, password: role.password, database: name }
    const missing = await probeDatabase(target, { schema: referenceSchema })
    assert.equal(cause(missing), 'databaseMissing')
    assert.equal(!missing.ok && missing.canCreate, true)
    assert.equal(await createServerDatabase(target), null)
    assert.equal(cause(await probeDatabase(target, { schema: referenceSchema })), 'ok:empty')
  })

  test(`${provider}: a missing database, for an account that may not create one: no "Create it"`, async t => {
    if (!await requireServer(t, provider)) return
    const name = uniqueName()
    dropAfter(t, provider, name)
    // MySQL: the account may use the database once it exists, but not create it.
    const role = await createRole(t, provider, provider === 'mysql' ? { grants: [{ database: name, privileges: 'SELECT, INSERT' }] } : {})
    const target: ServerConnection = { ...admin(), user: role.user, password: role.password, database: name }
    const missing = await probeDatabase(target, { schema: referenceSchema })
    assert.equal(cause(missing), 'databaseMissing')
    assert.equal(!missing.ok && missing.canCreate, false)
    const refused = await createServerDatabase(target)
    assert.equal(refused?.cause, 'privileges')
  })

  test(`${provider}: a role without CREATE → privileges, naming what is missing`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    // PostgreSQL 15 grants nobody CREATE on the public schema by default: CONNECT alone is what a DBA often gives.
    const role = await createRole(t, provider, provider === 'mysql' ? { grants: [{ database: db.database, privileges: 'SELECT, INSERT, UPDATE, DELETE' }] } : {})
    if (provider === 'postgresql') await adminQuery(provider, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`, db.database)
    const result = await probeDatabase({ ...db, user: role.user, password: role.password }, { schema: referenceSchema })
    assert.equal(cause(result), 'privileges')
    assert.ok(!result.ok)
    assert.deepEqual(result.missing, ['CREATE'])
    assert.equal(result.untested, true)
  })

  if (provider === 'mysql') {
    test('mysql: a role with CREATE but neither INDEX nor ALTER nor DROP → each one is listed, and no probe table is left', async t => {
      if (!await requireServer(t, provider)) return
      const db = await createDatabase(t, provider)
      const role = await createRole(t, provider, { grants: [{ database: db.database, privileges: 'CREATE, SELECT, INSERT, UPDATE, DELETE, REFERENCES' }] })
      const result = await probeDatabase({ ...db, user: role.user, password: role.password }, { schema: referenceSchema })
      assert.equal(cause(result), 'privileges')
      assert.ok(!result.ok)
      assert.deepEqual(result.missing, ['ALTER', 'INDEX', 'DROP'])
      // Without DROP the account cannot clean up: the administrator does.
      const left = await adminQuery(provider, `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.database}'`) as Array<Array<{ name: string }>>
      for (const { name } of left[0]) assert.match(name, /^_amorce_probe_/)
    })
  }

  test(`${provider}: TLS required against a server without TLS → tlsUnsupported`, async t => {
    if (!await requireServer(t, provider)) return
    assert.equal(cause(await probeDatabase({ ...admin(), tls: 'required' }, { schema: referenceSchema })), 'tlsUnsupported')
  })

  test(`${provider}: an unreadable CA file → caFile`, async t => {
    if (!await requireServer(t, provider)) return
    assert.equal(cause(await probeDatabase({ ...admin(), tls: 'verify', caFile: '/nonexistent/amorce-ca.pem' }, { schema: referenceSchema })), 'caFile')
  })

  test(`${provider}: another application's table → otherTables (to confirm); a table with one of our names → tableConflict`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    await adminQuery(provider, 'CREATE TABLE wp_posts (id INTEGER PRIMARY KEY)', db.database)
    const result = await probeDatabase(db, { schema: referenceSchema })
    assert.equal(cause(result), 'ok:otherTables')
    assert.ok(result.ok)
    assert.deepEqual(result.tables, ['wp_posts'])
    // Confirmed: the runner installs beside it and leaves it alone.
    await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url: buildDatabaseUrl(db), allowOtherTables: true })
    assert.equal(cause(await probeDatabase(db, { schema: referenceSchema })), 'ok:ours')

    const other = await createDatabase(t, provider)
    await adminQuery(provider, `CREATE TABLE ${provider === 'postgresql' ? '"AdminUser"' : '`AdminUser`'} (id INTEGER PRIMARY KEY)`, other.database)
    const conflict = await probeDatabase(other, { schema: referenceSchema })
    assert.equal(cause(conflict), 'tableConflict')
    assert.ok(!conflict.ok)
    assert.deepEqual(conflict.names, ['AdminUser'])
  })

  test(`${provider}: a database holding this app → ours, with applied and pending counts`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    const { applied } = await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url: buildDatabaseUrl(db) })
    const result = await probeDatabase(db, { schema: referenceSchema })
    assert.ok(result.ok)
    assert.equal(result.state, 'ours')
    assert.equal(result.applied, applied.length)
    assert.equal(result.pending, 0)
  })

  test(`${provider}: another Prisma application's _prisma_migrations → otherPrismaApp; migrations of a newer release → newerApp`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url: buildDatabaseUrl(db) })
    const q = provider === 'postgresql' ? '"_prisma_migrations"' : '`_prisma_migrations`'
    await adminQuery(provider, `INSERT INTO ${q} (id, checksum, migration_name, finished_at, applied_steps_count) VALUES ('x1', 'c', '39990101000000_future', CURRENT_TIMESTAMP, 1)`, db.database)
    assert.equal(cause(await probeDatabase(db, { schema: referenceSchema })), 'newerApp')
    await adminQuery(provider, `DELETE FROM ${q}`, db.database)
    await adminQuery(provider, `INSERT INTO ${q} (id, checksum, migration_name, finished_at, applied_steps_count) VALUES ('x2', 'c', '20200101000000_blog', CURRENT_TIMESTAMP, 1)`, db.database)
    assert.equal(cause(await probeDatabase(db, { schema: referenceSchema })), 'otherPrismaApp')
  })
}

test('postgresql: a role without CONNECT on the database → databaseDenied', async t => {
  if (!await requireServer(t, 'postgresql')) return
  const db = await createDatabase(t, 'postgresql')
  await adminQuery('postgresql', `REVOKE CONNECT ON DATABASE "${db.database}" FROM PUBLIC`)
  const role = await createRole(t, 'postgresql')
  assert.equal(cause(await probeDatabase({ ...db, user: role.user, password: role.password }, { schema: referenceSchema })), 'databaseDenied')
})

test('mysql: a role without any grant on the database → databaseDenied', async t => {
  if (!await requireServer(t, 'mysql')) return
  const db = await createDatabase(t, 'mysql')
  const role = await createRole(t, 'mysql')
  assert.equal(cause(await probeDatabase({ ...db, user: role.user, password: role.password }, { schema: referenceSchema })), 'databaseDenied')
})
