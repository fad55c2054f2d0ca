// The compatibility proof: Prisma's own schema engine (@prisma/schema-engine-wasm) accepts what our runner does, and the reverse.
// After our runner migrates a database, Prisma's engine must find nothing to apply, nothing failed or edited, and no
// drift from schema.prisma; after Prisma's engine migrates one, our runner must find it up to date. SQLite always;
// PostgreSQL on a throw-away database when a server is reachable (required when CI=true).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { cp, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import pg from 'pg'
import type { MigrationList } from '@prisma/schema-engine-wasm'
import { migrate, MigrationError, migrationStatus, type Provider } from '../../../server/db/migrate.ts'
import {
  databaseTarget, diffScript, openSchemaEngine, postgresDevUrl, readMigrationsList, schemaTarget, SCHEMA_FILTER, type EngineProvider
} from '../../../scripts/db-migration.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { PRISMA_ADVISORY_LOCK_KEY } from '../../../server/db/engines/postgresql.ts'

// The server where Prisma's engine makes its shadow databases; the tests create their databases there too.
const PG_ADMIN_URL = postgresDevUrl()

/** What Prisma's engine says about a database and a migrations directory. */
async function prismaVerdict (provider: EngineProvider, url: string, migrationsDir: string) {
  const session = await openSchemaEngine(provider, url)
  try {
    const { engine } = session
    const migrationsList = await readMigrationsList(migrationsDir)
    const diagnosis = await engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: true, filters: SCHEMA_FILTER })
    // `migrate dev`'s own check: replays the migrations on a shadow database and compares it with the real one.
    const dev = await engine.devDiagnostic({ migrationsList, filters: SCHEMA_FILTER })
    const drift = await diffScript(engine, await databaseTarget(provider), await schemaTarget(provider))
    return { diagnosis, dev, drift }
  } finally {
    await session.close()
  }
}

async function prismaApply (provider: EngineProvider, url: string, migrationsList: MigrationList) {
  const session = await openSchemaEngine(provider, url)
  try {
    return await session.engine.applyMigrations({ migrationsList, filters: SCHEMA_FILTER })
  } finally {
    await session.close()
  }
}

async function copyMigrations (t: TestContext, provider: Provider): Promise<string> {
  const dir = path.join(await tempDir(t, 'amorce-compat-'), 'migrations')
  await cp(referenceSchema.migrationsDir(provider), dir, { recursive: true })
  return dir
}

function assertUpToDateForPrisma (verdict: Awaited<ReturnType<typeof prismaVerdict>>) {
  assert.deepEqual(verdict.diagnosis, { editedMigrationNames: [], failedMigrationNames: [], hasMigrationsTable: true, history: null })
  assert.deepEqual(verdict.dev.action, { tag: 'createMigration' }, 'no drift between the migration history and the database')
  assert.equal(verdict.drift.empty, true, `the database differs from schema.prisma:\n${verdict.drift.script}`)
}

/** The scenarios, run against one provider; `database` yields a fresh empty database URL for the test. */
function compatibilitySuite (provider: EngineProvider, database: (t: TestContext) => Promise<string>, skip: string | false) {
  test(`${provider}: after our runner migrates, Prisma's engine has nothing to apply and sees no drift`, { skip }, async (t) => {
    const url = await database(t)
    const migrationsDir = referenceSchema.migrationsDir(provider)
    const { applied } = await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url })
    assert.ok(applied.length > 0)
    assertUpToDateForPrisma(await prismaVerdict(provider, url, migrationsDir))
    assert.deepEqual(await prismaApply(provider, url, await readMigrationsList(migrationsDir)), { appliedMigrationNames: [] })
  })

  test(`${provider}: after Prisma's engine migrates, our runner finds the database up to date`, { skip }, async (t) => {
    const url = await database(t)
    const migrationsDir = referenceSchema.migrationsDir(provider)
    const { appliedMigrationNames } = await prismaApply(provider, url, await readMigrationsList(migrationsDir))
    assert.ok(appliedMigrationNames.length > 0)
    const status = await migrationStatus({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url })
    assert.deepEqual(status, { applied: appliedMigrationNames, pending: [], failed: [], modified: [], missingLocally: [] })
    assert.deepEqual(await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url }), { applied: [], alreadyApplied: appliedMigrationNames })
  })

  test(`${provider}: a failure our runner records is a failed migration for Prisma, an edit an edited one`, { skip }, async (t) => {
    const url = await database(t)
    const migrationsDir = await copyMigrations(t, provider)
    const [init] = (await readMigrationsList(migrationsDir)).migrationDirectories.map(d => d.path)
    await migrate({ provider, url, migrationsDir })
    const broken = '30000101000000_broken'
    await mkdir(path.join(migrationsDir, broken))
    await writeFile(path.join(migrationsDir, broken, 'migration.sql'), 'CREATE TABLE "AdminUser" ("id" INTEGER);\n')
    await assert.rejects(migrate({ provider, url, migrationsDir }), (err: unknown) => err instanceof MigrationError && err.code === 'sqlError')
    await writeFile(path.join(migrationsDir, init!, 'migration.sql'), '-- edited after being applied\n', { flag: 'a' })

    const session = await openSchemaEngine(provider, url)
    try {
      const migrationsList = await readMigrationsList(migrationsDir)
      const diagnosis = await session.engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: false, filters: SCHEMA_FILTER })
      assert.deepEqual(diagnosis.failedMigrationNames, [broken])
      assert.deepEqual(diagnosis.editedMigrationNames, [init])
      // Prisma refuses to go on, as our runner does (P3009).
      await assert.rejects(session.engine.applyMigrations({ migrationsList, filters: SCHEMA_FILTER }), /failed migrations/)
    } finally {
      await session.close()
    }
  })
}

// ---------------------------------------------------------------------------------------------
// SQLite

compatibilitySuite('sqlite', async (t) => `file:${path.join(await tempDir(t, 'amorce-compat-'), 'app.db')}`, false)

// ---------------------------------------------------------------------------------------------
// PostgreSQL: one database per test, dropped afterwards

async function postgresReachable (): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

async function adminQuery (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

async function postgresDatabase (t: TestContext): Promise<string> {
  const name = `amorce_test_${randomBytes(6).toString('hex')}`
  await adminQuery(`CREATE DATABASE ${name}`)
  // FORCE: a pool the test left behind must not keep the database alive.
  t.after(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

const pgUp = await postgresReachable()
if (!pgUp) {
  if (process.env.CI === 'true') {
    test('PostgreSQL is reachable (required in CI)', () => {
      assert.fail(`PostgreSQL is unreachable at ${PG_ADMIN_URL}: CI must run the PostgreSQL compatibility tests`)
    })
  } else {
    console.warn(`\n⚠⚠⚠ PostgreSQL unreachable at ${PG_ADMIN_URL} (set AMORCE_MIGRATION_PG_URL): SKIPPING the PostgreSQL migration compatibility tests ⚠⚠⚠\n`)
  }
}
compatibilitySuite('postgresql', postgresDatabase, pgUp ? false : 'PostgreSQL unreachable')

/** A client for the test's own assertions, ended before the test's database is dropped. */
async function withClient<T> (url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

test('postgresql: a session holding Prisma\'s advisory lock makes the run wait, then time out', { skip: pgUp ? false : 'PostgreSQL unreachable' }, async (t) => {
  const url = await postgresDatabase(t)
  await withClient(url, async holder => {
    await holder.query(`SELECT pg_advisory_lock(${PRISMA_ADVISORY_LOCK_KEY})`)
    const started = Date.now()
    await assert.rejects(migrate({ provider: 'postgresql', migrationsDir: referenceSchema.migrationsDir('postgresql'), url, lockTimeoutMs: 300 }),
      (err: unknown) => err instanceof MigrationError && err.code === 'lockTimeout')
    assert.ok(Date.now() - started >= 250, 'it waited for the lock')
    await holder.query(`SELECT pg_advisory_unlock(${PRISMA_ADVISORY_LOCK_KEY})`)
  })
  assert.ok((await migrate({ provider: 'postgresql', migrationsDir: referenceSchema.migrationsDir('postgresql'), url })).applied.length > 0)
})

test('postgresql: the URL\'s ?schema= holds the tables and _prisma_migrations, as with Prisma', { skip: pgUp ? false : 'PostgreSQL unreachable' }, async (t) => {
  const base = await postgresDatabase(t)
  const url = `${base}?schema=amorce`
  await migrate({ provider: 'postgresql', migrationsDir: referenceSchema.migrationsDir('postgresql'), url })
  const rows = await withClient(base, async client => (await client.query(
    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 2"
  )).rows)
  assert.deepEqual(rows, ['AdminUser', 'AuditLog', 'Setting', '_prisma_migrations'].map(table_name => ({ table_schema: 'amorce', table_name })))
  assert.deepEqual((await migrationStatus({ provider: 'postgresql', migrationsDir: referenceSchema.migrationsDir('postgresql'), url })).pending, [])
})
