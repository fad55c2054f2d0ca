// Backup test fixtures: throwaway databases on each engine, a seeded data set with awkward values, and a
// logical dump (every table, every value, in key order) to compare databases across engines.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { existsSync } from 'node:fs'
import pg from 'pg'
import mariadb from 'mariadb'
import { encodeRow, type Value } from '../../../server/backup/codec.ts'
import { appSchema } from '../../../server/backup/schema.ts'
import { migrate, type Provider } from '../../../server/db/migrate.ts'
import { requireService } from '../../helpers/services.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { engineOf } from '../../../server/db/engines/index.ts'

const APP_TABLES = await appSchema(referenceSchema)

export const PG_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
export const MARIADB_URL = process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/mysql'

async function reachable (open: () => Promise<{ end: () => Promise<void> }>): Promise<boolean> {
  try {
    await (await open()).end()
    return true
  } catch {
    return false
  }
}

/** A fresh, empty database URL for the engine, removed when the test ends; undefined when skipped. */
export async function emptyDatabase (t: TestContext, provider: Provider): Promise<string | undefined> {
  const name = `amorce_bk_${randomBytes(5).toString('hex')}`
  if (provider === 'sqlite') return `file:${path.join(await tempDir(t, 'amorce-backup-'), `${name}.db`)}`
  if (provider === 'postgresql') {
    const ok = await reachable(async () => { const c = new pg.Client({ connectionString: PG_URL }); await c.connect(); return c })
    if (!requireService(t, 'PostgreSQL', ok, 'run PostgreSQL on 127.0.0.1:5432 (user postgres, trust) or set TEST_POSTGRES_URL')) return undefined
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    t.after(async () => {
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    })
    const url = new URL(PG_URL)
    url.pathname = `/${name}`
    return url.toString()
  }
  const admin = new URL(MARIADB_URL)
  const config = { host: admin.hostname, port: Number(admin.port || 3306), user: decodeURIComponent(admin.username), password: decodeURIComponent(admin.password) }
  const ok = await reachable(() => mariadb.createConnection(config))
  if (!requireService(t, 'MariaDB', ok, 'run MariaDB on 127.0.0.1:3306 (root, empty password) or set TEST_MARIADB_URL')) return undefined
  const conn = await mariadb.createConnection(config)
  await conn.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  await conn.end()
  t.after(async () => {
    const c = await mariadb.createConnection(config)
    await c.query(`DROP DATABASE IF EXISTS ${name}`)
    await c.end()
  })
  admin.pathname = `/${name}`
  return admin.toString()
}

/** Whether the migration runner can drive the engine yet (MySQL is being added). */
export function migrationsAvailable (provider: Provider): boolean {
  return existsSync(referenceSchema.migrationsDir(provider))
}

/** Rows with awkward values: unicode, quotes, newlines, nulls, ms dates, gaps in ids, a self-contained FK graph. */
export function sampleRows (): Record<string, Value[][]> {
  const d = (iso: string) => new Date(iso)
  return {
    AdminUser: [
      [3, 'alice', 'alice@example.com', '$argon2id$v=19$m=19456,t=2,p=1$9Tsn6VHKS1Td2SxLcyibNQ$2nn6sm+I4LKYNDkSRBXSNGIhJHwO07EEwrWEAefS77A', 'fr', d('2024-02-29T23:59:59.999Z'), d('2025-01-01T00:00:00.001Z'), null],
      [7, 'bób_ü', 'bob@exämple.org', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$'.padEnd(190, 'A'), 'en', d('1999-12-31T12:00:00.000Z'), d('2026-11-21T10:20:30.456Z'), d('2026-11-21T10:20:31.000Z')]
    ],
    Setting: [
      ['site.name', 'Chez « Amorce » — l’appli 🚀', d('2026-01-02T03:04:05.678Z')],
      ['quote"s', 'line1\nline2\t\\ back\u0001slash? no: \u2028 sep', d('2026-01-02T03:04:05.000Z')],
      ['empty', '', d('2026-01-02T03:04:05.000Z')]
    ],
    AuditLog: [
      [1, d('2026-03-01T00:00:00.000Z'), 'install.completed', '{"provider":"sqlite"}', null],
      [2, d('2026-03-01T00:00:01.123Z'), 'auth.login', null, 3],
      [40, d('2026-03-02T00:00:00.500Z'), 'auth.login', 'ünïcödé 日本語', 7]
    ]
  }
}

/** Migrates the database and inserts `rows` through the engine adapter (the path a restore uses). */
export async function seed (provider: Provider, url: string, rows: Record<string, Value[][]> = sampleRows(), migrationsDir?: string): Promise<void> {
  await migrate({ provider, url, migrationsDir: migrationsDir ?? referenceSchema.migrationsDir(provider) })
  const engine = await engineOf(provider).backup.open(url)
  try {
    await engine.beginWrite()
    for (const table of APP_TABLES) await engine.insert(table.name, table.columns, rows[table.name] ?? [])
    for (const table of APP_TABLES) await engine.continueSequences(table.name, table.columns)
    await engine.commit()
  } finally {
    await engine.close()
  }
}

/** Every table, every value, as backup-format JSON lines: equal dumps mean equal logical content. */
export async function logicalDump (provider: Provider, url: string): Promise<Record<string, string[]>> {
  const engine = await engineOf(provider).backup.open(url)
  try {
    await engine.beginSnapshot()
    const dump: Record<string, string[]> = {}
    for (const table of APP_TABLES) {
      dump[table.name] = []
      for await (const batch of engine.readRows(table, 100)) for (const row of batch) dump[table.name].push(encodeRow(table.columns, row))
    }
    await engine.commit()
    return dump
  } finally {
    await engine.close()
  }
}

/** Inserts an AuditLog row without an id through the engine's own default, returning the id it got. */
export async function nextAuditLogId (provider: Provider, url: string): Promise<number> {
  if (provider === 'sqlite') {
    const { createClient } = await import('@libsql/client')
    const client = createClient({ url })
    try {
      const r = await client.execute(`INSERT INTO "AuditLog" ("event") VALUES ('after.restore') RETURNING "id"`)
      return Number(r.rows[0].id)
    } finally { client.close() }
  }
  if (provider === 'postgresql') {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      return Number((await c.query(`INSERT INTO "AuditLog" ("event") VALUES ('after.restore') RETURNING "id"`)).rows[0].id)
    } finally { await c.end() }
  }
  const u = new URL(url)
  const c = await mariadb.createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1), insertIdAsNumber: true })
  try {
    const r = await c.query("INSERT INTO `AuditLog` (`event`) VALUES ('after.restore')")
    return Number(r.insertId)
  } finally { await c.end() }
}
