// The tables a backup must hold, taken from the app itself: its migrations up to a level, applied to a scratch
// in-memory SQLite and introspected (PRAGMA table_info / index_list / foreign_key_list). The migrations are what
// Prisma generated from the app's data model, so this is Prisma's own schema at that level,
// including older levels; a test checks that at the latest level it agrees with the generated client's runtime
// data model. Everything here takes the app's schema (its migrations) as input: a host app's serve as well. What
// each engine accepts beyond the Prisma type (ColumnLimit) is the engine's (server/db/engines/*, `backup.limits`).
import type { AppSchema } from '../definition.ts'
import type { LocalMigration } from '../db/migrations.ts'

/** The Prisma scalar types a column can have; enums are stored and carried as strings. */
export const COLUMN_TYPES = ['Int', 'BigInt', 'Float', 'Decimal', 'String', 'Boolean', 'DateTime', 'Json', 'Bytes'] as const
export type ColumnType = typeof COLUMN_TYPES[number]

export interface ColumnSpec {
  /** The database column name (`@map`, else the field name). */
  name: string
  type: ColumnType
  nullable: boolean
  /** `@default(autoincrement())`: its sequence / counter must continue after the highest restored value. */
  autoincrement?: boolean
}

export interface ForeignKeySpec {
  columns: string[]
  /** the referenced table and its columns (a primary key or a unique index) */
  table: string
  references: string[]
}

export interface TableSpec {
  /** The database table name (`@@map`, else the model name). */
  name: string
  columns: ColumnSpec[]
  /** Columns of the primary key (`@id`, `@@id`, else the first `@unique`): the read order of a backup. */
  key: string[]
  /** Tables this one references. */
  references: string[]
  /** Every unique constraint, the primary key first. */
  uniques?: string[][]
  /** Every index (unique or not): what an engine's index size limit applies to. */
  indexed?: string[][]
  foreignKeys?: ForeignKeySpec[]
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/

/** SQLite's declared types as Prisma's SQLite migrations write them → the Prisma type. */
const SQLITE_TYPES: Record<string, ColumnType> = {
  INTEGER: 'Int', INT: 'Int', BIGINT: 'BigInt', REAL: 'Float', DOUBLE: 'Float', FLOAT: 'Float', DECIMAL: 'Decimal', NUMERIC: 'Decimal',
  TEXT: 'String', BOOLEAN: 'Boolean', DATETIME: 'DateTime', DATE: 'DateTime', JSONB: 'Json', JSON: 'Json', BLOB: 'Bytes'
}

/** Tables that are the engine's or the migration runner's own, never the app's data. */
const INTERNAL_TABLE = /^(sqlite_|_prisma_migrations$|_litestream|_cf_)/

/**
 * The app's tables at `upTo` (default: the last migration), in foreign-key order, from SQLite migrations:
 * applied to a scratch in-memory database, then introspected.
 */
export async function schemaFromMigrations (migrations: readonly LocalMigration[], upTo?: string): Promise<TableSpec[]> {
  const { createClient } = await import('@libsql/client')
  const client = createClient({ url: ':memory:', intMode: 'number' })
  try {
    for (const migration of migrations) {
      if (upTo !== undefined && migration.name > upTo) break
      await client.executeMultiple(migration.sql)
    }
    const all = async (sql: string, args: unknown[] = []) => (await client.execute({ sql, args: args as never })).rows as unknown as Array<Record<string, unknown>>
    const tables: TableSpec[] = []
    for (const { name, sql } of await all("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid")) {
      const table = String(name)
      if (INTERNAL_TABLE.test(table)) continue
      const info = await all('SELECT name, type, "notnull" AS required, pk FROM pragma_table_info(?) ORDER BY cid', [table])
      const pk = info.filter(c => Number(c.pk) > 0).sort((a, b) => Number(a.pk) - Number(b.pk)).map(c => String(c.name))
      const autoincrement = /\bAUTOINCREMENT\b/i.test(String(sql))
      const columns: ColumnSpec[] = info.map(c => {
        const declared = String(c.type).toUpperCase().replace(/\(.*$/, '').trim()
        const type = SQLITE_TYPES[declared]
        if (type === undefined) throw new Error(`${table}.${String(c.name)}: column type ${String(c.type)} is not supported by the backup format`)
        const spec: ColumnSpec = { name: String(c.name), type, nullable: Number(c.required) === 0 && Number(c.pk) === 0 }
        if (autoincrement && pk.length === 1 && pk[0] === spec.name && type === 'Int') spec.autoincrement = true
        return spec
      })
      const uniques: string[][] = pk.length > 0 ? [pk] : []
      const indexed: string[][] = pk.length > 0 ? [pk] : []
      for (const index of await all('SELECT name, "unique" AS isUnique, origin, partial FROM pragma_index_list(?)', [table])) {
        const cols = (await all('SELECT name FROM pragma_index_info(?) ORDER BY seqno', [index.name])).map(r => String(r.name))
        if (cols.length === 0 || cols.includes('null')) continue // an expression index: nothing to check row by row
        if (!indexed.some(u => same(u, cols))) indexed.push(cols)
        if (Number(index.isUnique) === 1 && Number(index.partial) === 0 && !uniques.some(u => same(u, cols))) uniques.push(cols)
      }
      const fkRows = await all('SELECT id, seq, "table" AS target, "from" AS source, "to" AS dest FROM pragma_foreign_key_list(?) ORDER BY id, seq', [table])
      const foreignKeys: ForeignKeySpec[] = []
      for (const row of fkRows) {
        let fk = foreignKeys[Number(row.id)]
        if (!fk) fk = foreignKeys[Number(row.id)] = { columns: [], table: String(row.target), references: [] }
        fk.columns.push(String(row.source))
        fk.references.push(String(row.dest))
      }
      const key = pk.length > 0 ? pk : uniques[0]
      if (!key) throw new Error(`${table}: a table without a primary key or unique index cannot be read in a stable order`)
      if (!IDENT.test(table) || columns.some(c => !IDENT.test(c.name))) throw new Error(`${table}: names must be plain identifiers`)
      tables.push({
        name: table,
        columns,
        key,
        references: [...new Set(foreignKeys.filter(Boolean).map(f => f.table))].filter(t => t !== table),
        uniques,
        indexed,
        foreignKeys: foreignKeys.filter(Boolean)
      })
    }
    return foreignKeyOrder(tables)
  } finally {
    client.close()
  }
}

function same (a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** The app's tables at a migration level, from its SQLite migrations (the engine-neutral description). */
export async function appSchema (schema: Pick<AppSchema, 'migrationsDir'>, upTo?: string): Promise<TableSpec[]> {
  const { listLocalMigrations } = await import('../db/migrations.ts')
  return schemaFromMigrations(await listLocalMigrations('sqlite', { migrationsDir: schema.migrationsDir('sqlite') }), upTo)
}

/** Topological order, stable on the schema's own order; a reference cycle keeps the schema order for its members. */
export function foreignKeyOrder (tables: TableSpec[]): TableSpec[] {
  const ordered: TableSpec[] = []
  const placed = new Set<string>()
  const remaining = [...tables]
  while (remaining.length > 0) {
    const index = remaining.findIndex(t => t.references.every(r => placed.has(r) || !remaining.some(o => o.name === r)))
    const next = remaining.splice(index === -1 ? 0 : index, 1)[0]
    ordered.push(next)
    placed.add(next.name)
  }
  return ordered
}

/** What the target engine accepts in one column, beyond the Prisma type. */
export interface ColumnLimit {
  /** characters (MySQL VARCHAR(n)) */
  maxChars?: number
  /** bytes of UTF-8 (MySQL TEXT types, PostgreSQL's B-tree index entry) */
  maxBytes?: number
  /** the engine refuses U+0000 in text (PostgreSQL) */
  noNul?: boolean
  /** the smallest and largest year a DateTime holds */
  minYear?: number
  maxYear?: number
  /** NaN / ±Infinity refused in a Float */
  finiteFloat?: boolean
  /** MySQL compares unique strings case- and accent-insensitively (utf8mb4_unicode_ci) */
  foldCase?: boolean
  /** the most digits a Decimal holds before and after the point (DECIMAL(65,30): 35 and 30) */
  decimal?: { integer: number, fraction: number }
}

export function isIdentifier (name: string): boolean {
  return IDENT.test(name)
}
