// A host app's backup across engines: the notes schema of test/unit/backup/host-schema (enum, Json, Decimal, Bytes,
// DateTime, a relation, the `_NoteToTag` many-to-many table), migrated by the runner, filled on SQLite, backed up,
// restored into PostgreSQL, backed up there and restored into a new SQLite database: every row identical, the
// host's users listed as the restored accounts, the ids continuing after the restored ones. Nothing of the
// reference app is involved.
import assert from 'node:assert/strict'
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { createClient } from '@libsql/client'
import pg from 'pg'
import { createBackup } from '../../../server/backup/create.ts'
import { backupLimits } from '../../../server/backup/format.ts'
import { restoreBackup } from '../../../server/backup/restore.ts'
import { migrate } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { hostSchema } from '../../unit/backup/host-schema/index.ts'
import { emptyDatabase } from './fixtures.ts'

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'
const admin = { table: { name: 'User', username: 'email', email: 'email' } }
const schema = { ...hostSchema, client: async () => { throw new Error('no client is needed by a backup') } }

const ROWS = [
  `INSERT INTO "User" ("id", "email", "role", "passwordHash", "createdAt") VALUES (1, 'ada@example.com', 'ADMIN', '${HASH}', '2026-01-02T03:04:05.678+00:00'), (7, 'bob@exämple.org', 'READER', '${HASH}', '2026-02-01T00:00:00.000+00:00')`,
  `INSERT INTO "Note" ("id", "title", "body", "price", "cover", "dueAt", "authorId") VALUES (1, 'Première note', '{"blocks":[{"t":"p","text":"héllo"}],"n":1.5}', '12.50', X'00FF10', '2026-03-04T05:06:07.089+00:00', 1), (2, 'Empty', NULL, NULL, NULL, NULL, 7), (5, 'Tab\tand\nnewline \\ backslash', '[]', '-0.000001', X'', '1999-12-31T23:59:59.999+00:00', 1)`,
  `INSERT INTO "Tag" ("id", "name") VALUES (1, 'work'), (2, 'idées'), (3, 'unused')`,
  `INSERT INTO "_NoteToTag" ("A", "B") VALUES (1, 1), (1, 2), (5, 2)`,
  `INSERT INTO "Setting" ("key", "value", "updatedAt") VALUES ('site:name', 'Notes', '2026-01-01T00:00:00.000+00:00')`
]

/** JSON with its object keys sorted: PostgreSQL's jsonb keeps keys in its own order, as Prisma's Json does there. */
function canonical (value: unknown): string {
  const sort = (v: unknown): unknown => Array.isArray(v) ? v.map(sort) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map(k => [k, sort((v as Record<string, unknown>)[k])])) : v
  return JSON.stringify(sort(value))
}

/** Every row of every host table, values normalized the same way whatever the engine. */
async function dump (provider: 'sqlite' | 'postgresql', url: string): Promise<Record<string, unknown[]>> {
  const queries: Record<string, string> = {
    User: 'SELECT "id", "email", "role"::text AS "role", "passwordHash", "createdAt" FROM "User" ORDER BY "id"',
    Note: 'SELECT "id", "title", "body", "price", "cover", "dueAt", "authorId" FROM "Note" ORDER BY "id"',
    Tag: 'SELECT "id", "name" FROM "Tag" ORDER BY "id"',
    _NoteToTag: 'SELECT "A", "B" FROM "_NoteToTag" ORDER BY "A", "B"',
    Setting: 'SELECT "key", "value", "updatedAt" FROM "Setting" ORDER BY "key"'
  }
  const norm = (v: unknown): unknown => {
    if (v === null || v === undefined) return null
    if (v instanceof Date) return v.toISOString()
    if (v instanceof ArrayBuffer || Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v as Uint8Array).toString('hex')
    if (typeof v === 'bigint') return Number(v)
    if (typeof v === 'object') return canonical(v)
    return v
  }
  const out: Record<string, unknown[]> = {}
  if (provider === 'sqlite') {
    const db = createClient({ url })
    try {
      for (const [table, sql] of Object.entries(queries)) {
        const rows = (await db.execute(sql.replace('::text', ''))).rows
        out[table] = rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => {
          if ((k === 'createdAt' || k === 'dueAt' || k === 'updatedAt') && typeof v === 'string') return [k, new Date(v).toISOString()]
          if (k === 'body' && typeof v === 'string') return [k, canonical(JSON.parse(v))]
          if (k === 'price' && v !== null) return [k, Number(v)]
          return [k, norm(v)]
        })))
      }
    } finally { db.close() }
    return out
  }
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    for (const [table, sql] of Object.entries(queries)) {
      out[table] = (await client.query(sql)).rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'price' && v !== null ? Number(v) : norm(v)])))
    }
  } finally { await client.end() }
  return out
}

async function backupOf (t: TestContext, provider: 'sqlite' | 'postgresql', url: string): Promise<string> {
  const file = path.join(await tempDir(t), `${provider}.tar.gz`)
  await createBackup(createWriteStream(file), { provider, url, schema })
  return file
}

test('a host schema\'s backup restores SQLite → PostgreSQL → SQLite with identical rows, relations included', async t => {
  const source = (await emptyDatabase(t, 'sqlite'))!
  await migrate({ provider: 'sqlite', url: source, migrationsDir: schema.migrationsDir('sqlite') })
  const db = createClient({ url: source })
  for (const sql of ROWS) await db.execute(sql)
  db.close()
  const original = await dump('sqlite', source)
  assert.equal(original._NoteToTag.length, 3)

  const target = await emptyDatabase(t, 'postgresql')
  if (target === undefined) return
  const summary = await restoreBackup({ file: await backupOf(t, 'sqlite', source), provider: 'postgresql', url: target, limits: backupLimits({}), schema, admin })
  assert.deepEqual(summary.accounts, [{ username: 'ada@example.com', email: 'ada@example.com' }, { username: 'bob@exämple.org', email: 'bob@exämple.org' }])
  assert.deepEqual(await dump('postgresql', target), original)
  // The sequences continue after the restored ids; the enum column kept its type.
  const client = new pg.Client({ connectionString: target })
  await client.connect()
  try {
    const { rows: [note] } = await client.query('INSERT INTO "Note" ("title", "authorId") VALUES (\'next\', 1) RETURNING "id"')
    assert.equal(note.id, 6)
    await assert.rejects(client.query('UPDATE "User" SET "role" = \'OWNER\' WHERE "id" = 1'), /invalid input value for enum/)
    await client.query('DELETE FROM "Note" WHERE "id" = 6')
  } finally { await client.end() }

  const back = (await emptyDatabase(t, 'sqlite'))!
  await restoreBackup({ file: await backupOf(t, 'postgresql', target), provider: 'sqlite', url: back, limits: backupLimits({}), schema, admin })
  assert.deepEqual(await dump('sqlite', back), original)
})

test('a host\'s value formats are enforced: a password hash the host could not verify is refused before anything is written', async t => {
  const source = (await emptyDatabase(t, 'sqlite'))!
  await migrate({ provider: 'sqlite', url: source, migrationsDir: schema.migrationsDir('sqlite') })
  const db = createClient({ url: source })
  await db.execute(`INSERT INTO "User" ("id", "email", "role", "passwordHash", "createdAt") VALUES (1, 'ada@example.com', 'ADMIN', 'plaintext', '2026-01-02T03:04:05.678+00:00')`)
  db.close()
  const file = await backupOf(t, 'sqlite', source)
  const target = (await emptyDatabase(t, 'sqlite'))!
  await assert.rejects(restoreBackup({ file, provider: 'sqlite', url: target, limits: backupLimits({}), schema, admin }), { code: 'rowPasswordHash' })
  // Without the format the same backup loads: the refusal came from the host's schema.
  await restoreBackup({ file, provider: 'sqlite', url: (await emptyDatabase(t, 'sqlite'))!, limits: backupLimits({}), schema: { ...schema, valueFormats: {} }, admin })
})
