// Normal mode on database servers: an installed app brings its database up to date before serving; a migration it
// cannot apply gives the 503 maintenance page (never the wizard), and it recovers once the cause is fixed.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { build, tempDir, text } from '../../helpers/app.ts'
import { adminQuery, createDatabase, requireServer } from '../../helpers/databases.ts'
import { listLocalMigrations } from '../../../server/db/migrate.ts'
import { buildDatabaseUrl } from '../../../server/db/engines/index.ts'
import { referenceSchema } from '../../../server/reference.ts'

for (const provider of ['postgresql', 'mysql'] as const) {
  test(`${provider}: an installed app on an empty database applies the migrations, then serves normal mode`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    const dir = await tempDir(t)
    const envFile = path.join(dir, '.env')
    await writeFile(envFile, `DATABASE_PROVIDER=${provider}\nDATABASE_URL="${buildDatabaseUrl(db)}"\nCACHE_BACKEND=memory\nSESSION_SECRET=${randomBytes(32).toString('base64url')}\nAPP_INSTALLED_AT=2026-01-01T00:00:00.000Z\n`)
    const { app } = await build(t, { dir, env: { ENV_FILE: envFile } })
    assert.equal(app.amorce.mode, 'normal')
    assert.equal((await app.inject('/health')).statusCode, 200)
    const q = provider === 'postgresql' ? '"_prisma_migrations"' : '`_prisma_migrations`'
    const [rows] = await adminQuery(provider, `SELECT migration_name AS name FROM ${q} WHERE finished_at IS NOT NULL`, db.database) as Array<Array<{ name: string }>>
    assert.deepEqual(rows.map(r => r.name), (await listLocalMigrations(provider, { migrationsDir: referenceSchema.migrationsDir(provider) })).map(m => m.name))
  })

  test(`${provider}: a failed migration left unresolved → 503 maintenance page and health, never the wizard; fixed → normal mode`, async t => {
    if (!await requireServer(t, provider)) return
    const db = await createDatabase(t, provider)
    const [init] = await listLocalMigrations(provider, { migrationsDir: referenceSchema.migrationsDir(provider) })
    const q = provider === 'postgresql' ? '"_prisma_migrations"' : '`_prisma_migrations`'
    // What a crash in the middle of an upgrade leaves: the bookkeeping row, started and never finished.
    await adminQuery(provider, [
      provider === 'postgresql'
        ? 'CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0)'
        : 'CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at DATETIME(3), migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at DATETIME(3), started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), applied_steps_count INTEGER UNSIGNED NOT NULL DEFAULT 0)',
      `INSERT INTO ${q} (id, checksum, migration_name, applied_steps_count) VALUES ('00000000-0000-4000-8000-000000000000', '${init.checksum}', '${init.name}', 0)`
    ], db.database)
    const dir = await tempDir(t)
    const envFile = path.join(dir, '.env')
    await writeFile(envFile, `DATABASE_PROVIDER=${provider}\nDATABASE_URL="${buildDatabaseUrl(db)}"\nCACHE_BACKEND=memory\nSESSION_SECRET=${randomBytes(32).toString('base64url')}\nAPP_LOCALE=en\nAPP_INSTALLED_AT=2026-01-01T00:00:00.000Z\n`)
    const { app } = await build(t, { dir, env: { ENV_FILE: envFile } })
    assert.equal(app.amorce.mode, 'unavailable')
    assert.equal(app.amorce.unavailable?.part, 'migrations')
    const page = await app.inject({ url: '/login', headers: { 'accept-language': 'en' } })
    assert.equal(page.statusCode, 503)
    assert.ok(!text(page).includes('setup token'))
    assert.equal((await app.inject('/setup')).statusCode, 404)
    assert.equal((await app.inject('/health')).statusCode, 503)
    // The administrator resolves it as Prisma says (`migrate resolve --rolled-back`): the next try starts normal mode.
    await adminQuery(provider, `UPDATE ${q} SET rolled_back_at = CURRENT_TIMESTAMP`, db.database)
    app.amorce.unavailable!.lastTry = new Date(0)
    assert.equal((await app.inject('/health')).statusCode, 200)
    assert.equal(app.amorce.mode, 'normal')
  })
}
