// What a backup or a restore asks of an engine's connection (each engine's `backup.open`, server/db/engines/*),
// and the helpers the engines' backup drivers share. Raw drivers (@libsql/client, pg, mariadb) rather than
// Prisma: a backup must read millions of rows as a stream inside one read transaction, and a restore must insert
// in bulk (pg: one `COPY FROM STDIN` per batch) and reset sequences: Prisma Client offers neither streaming reads
// nor engine-specific bulk paths, and its interactive transactions time out.
import type { Value } from './codec.ts'
import type { ColumnSpec, ForeignKeySpec, TableSpec } from './schema.ts'
import { BackupError } from './errors.ts'

export interface BackupConnection {
  readonly provider: string
  /** Opens the read transaction every later read sees (one snapshot for the whole backup). */
  beginSnapshot(): Promise<void>
  /** The last migration applied to this database (lexical order, as the runner applies them), or null. */
  lastMigration(): Promise<string | null>
  count(table: string): Promise<number>
  /** The table's rows in key order, in batches of normalized values (column order of `table.columns`). */
  readRows(table: TableSpec, batchSize: number): AsyncIterable<Value[][]>
  /** The value of a Setting row, or null (no such row, or no Setting table yet). */
  settingValue(key: string): Promise<string | null>
  /** The table's column names, or null when it does not exist. */
  columnsOf(table: string): Promise<string[] | null>
  beginWrite(): Promise<void>
  insert(table: string, columns: ColumnSpec[], rows: Value[][]): Promise<void>
  /**
   * Checks every foreign key of `tables` against the rows written (an engine that loads with its checks off
   * must check afterwards); throws a BackupError('rowForeignKey') naming the table and column.
   */
  checkForeignKeys(tables: TableSpec[]): Promise<void>
  /** Makes the table's auto-increment counters continue after the highest value it holds. */
  continueSequences(table: string, columns: ColumnSpec[]): Promise<void>
  /** True when sequences must be reset outside the write transaction (MySQL: ALTER TABLE commits). */
  readonly sequencesAfterCommit: boolean
  commit(): Promise<void>
  rollback(): Promise<void>
  close(): Promise<void>
}

/** Rows a batched multi-row INSERT can carry under the engine's parameter limit. */
export function rowsPerStatement (columns: number, maxParams: number, cap: number): number {
  return Math.max(1, Math.min(cap, Math.floor(maxParams / Math.max(1, columns))))
}

export function parseUtc (text: string): Date {
  // 'YYYY-MM-DD HH:MM:SS[.ffffff][+00[:00]|Z]': a value without an offset was stored as UTC by Prisma.
  const m = text.trim().match(/^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?)?$/)
  if (!m) {
    const date = new Date(text)
    if (Number.isNaN(date.getTime())) throw new Error(`unreadable date: ${text}`)
    return date
  }
  const ms = (m[3] ?? '.000').slice(0, 4).padEnd(4, '0')
  let zone = m[4] ?? 'Z'
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00'
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`
  return new Date(`${m[1]}T${m[2]}${ms}${zone}`)
}

export function foreignKeyError (table: TableSpec, fk: ForeignKeySpec | undefined): BackupError {
  return new BackupError('rowForeignKey', `a row of ${table.name} references a missing row`, { name: table.name, line: '-', column: fk?.columns.join(', ') ?? '-', table: fk?.table ?? '-' })
}

export function keyOrder (table: TableSpec, q: (name: string) => string): string {
  return table.key.map(q).join(', ')
}
