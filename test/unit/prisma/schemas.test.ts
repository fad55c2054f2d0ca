// Guards the model sources: each provider's schema.prisma is the composed one, and its migrations build exactly that schema.
// A model edited without `npm run db:schemas`, or without a new migration (`npm run db:migration -- <name>`),
// fails here. The migrations check runs Prisma's own schema engine (wasm): SQLite in memory, PostgreSQL on a
// server (required when CI=true, skipped loudly otherwise).
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import pg from 'pg'
import {
  composeSchema, diffScript, lockfileContent, migrationsDirOf, migrationsTarget, openSchemaEngine, postgresDevUrl,
  PROVIDERS, readMigrationsList, schemaPath, schemaTarget, type EngineProvider
} from '../../../scripts/db-migration.ts'

for (const provider of PROVIDERS) {
  test(`prisma/${provider}/schema.prisma is models.prisma composed with its header (npm run db:schemas)`, async () => {
    assert.equal(await readFile(schemaPath(provider), 'utf8'), composeSchema(provider))
  })
}

/** What a new migration would have to contain for `provider`; empty when the migrations match schema.prisma. */
async function missingMigration (provider: EngineProvider, schema?: string): Promise<{ empty: boolean; script: string }> {
  const session = await openSchemaEngine(provider)
  try {
    const to = schema === undefined ? await schemaTarget(provider) : { tag: 'schemaDatamodel' as const, files: [{ path: schemaPath(provider), content: schema }] }
    return await diffScript(session.engine, migrationsTarget(await readMigrationsList(migrationsDirOf(provider)), provider), to)
  } finally {
    await session.close()
  }
}

async function postgresReachable (): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresDevUrl(), connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

const pgUp = await postgresReachable()
if (!pgUp && process.env.CI !== 'true') {
  console.warn(`\n⚠⚠⚠ PostgreSQL unreachable at ${postgresDevUrl()} (set AMORCE_MIGRATION_PG_URL): SKIPPING the check that the PostgreSQL migrations match the models ⚠⚠⚠\n`)
}

for (const provider of ['sqlite', 'postgresql'] as const) {
  // In CI an unreachable server is not a reason to skip: the test runs, and fails on the connection.
  const skip = provider === 'postgresql' && !pgUp && process.env.CI !== 'true' ? 'PostgreSQL unreachable' : false
  test(`the ${provider} migrations build exactly prisma/${provider}/schema.prisma (else: npm run db:migration -- <name>)`, { skip }, async () => {
    const diff = await missingMigration(provider)
    assert.equal(diff.empty, true, `prisma/${provider}/schema.prisma has changes no migration covers:\n${diff.script}`)
  })

  test(`prisma/${provider}/migrations has Prisma's lockfile`, async () => {
    assert.equal(await readFile(`${migrationsDirOf(provider)}/migration_lock.toml`, 'utf8'), lockfileContent(provider))
  })
}

test('the migrations check does catch a model added without a migration', async () => {
  const schema = composeSchema('sqlite') + '\nmodel Unmigrated {\n  id Int @id\n}\n'
  const diff = await missingMigration('sqlite', schema)
  assert.equal(diff.empty, false)
  assert.match(diff.script, /CREATE TABLE "Unmigrated"/)
})
