// Reading a backup as a stream, checking everything before anything is used: gzip and tar structure, caps on
// size and expansion, safe entry names, the manifest, each file's sha256 and row count, and the migration level
// against this app's migrations for the target engine. The manifest's tables must agree with the app's own
// schema at that level (schema.ts); every row is then checked against that schema and the target engine's
// limits: types and formats, nullability, lengths, NUL, primary-key and unique duplicates, foreign keys within
// the archive, password hashes, UTF-8. The restore reads through the same scan, so what was verified is exactly
// what gets written.
import { Buffer, isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Transform, pipeline, type Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import type { AdminStore, AppSchema } from '../definition.ts'
import { engineOf, isProvider, type DatabaseProvider as Provider } from '../db/engines/index.ts'
import { listLocalMigrations, type LocalMigration } from '../db/migrations.ts'
import { decodeRow, RowProblem, type Value } from './codec.ts'
import { BackupError } from './errors.ts'
import { backupLimits, dataFileName, FORMAT_NAME, FORMAT_VERSION, MANIFEST_NAME, type BackupLimits, type BackupSummary, type Manifest, type ManifestTable } from './format.ts'
import { appSchema, COLUMN_TYPES, isIdentifier, type ColumnLimit, type ColumnSpec, type TableSpec } from './schema.ts'
import { readTar } from './tar.ts'

/** A value format the app itself must be able to use (the password hashes it verifies): AppSchema.valueFormats. */
export type ValueFormat = NonNullable<AppSchema['valueFormats']>[string]

const VALUE_FORMATS: Record<ValueFormat, RegExp> = {
  // The PHC string @node-rs/argon2 writes and verifies: $argon2id$v=19$m=…,t=…,p=…$salt$hash (unpadded base64).
  argon2id: /^\$argon2id\$v=19\$m=\d{1,10},t=\d{1,10},p=\d{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/
}

export interface ScanOptions {
  limits: BackupLimits
  /** the engine the backup will be restored into: its migrations must know the backup's level */
  provider: Provider
  /** the app's schema: its migrations for the target engine and for SQLite (the tables), its value formats */
  schema: BackupSchema
  /** where the app keeps its administrators: the accounts a restore brings are listed from that table */
  admin?: Pick<AdminStore, 'table'>
  /** the tables expected at a migration level (default: the app's, from its SQLite migrations; see schema.ts) */
  tables?: (migration: string) => Promise<TableSpec[]>
  batchSize?: number
  /** called once the manifest is read and checked against the app's schema, before any data */
  onManifest?: (manifest: Manifest, tables: TableSpec[]) => Promise<void>
  /** decoded rows of a table, in order, in batches */
  onRows?: (table: ManifestTable, rows: Value[][]) => Promise<void>
  /**
   * Given: a problem in a row is reported here and the scan goes on with the next row (a report lists them
   * all); structural problems still stop the scan. Without it, the first problem is thrown.
   */
  onProblem?: (problem: BackupError) => void
}

/** What a backup service needs of the app's schema (AppSchema, server/definition.ts). */
export type BackupSchema = Pick<AppSchema, 'migrationsDir' | 'valueFormats'>

export interface ScanResult { manifest: Manifest, tables: TableSpec[], admins: string[], accounts: RestoredAccount[], problems: number }

export interface RestoredAccount { username: string, email: string }

const MAX_ADMINS_SHOWN = 20
/** Accounts kept for the admin step's conflict check: far more than any install has administrators. */
const MAX_ACCOUNTS_KEPT = 1000

/** The decompressed bytes of an archive, with the size and ratio caps; zlib's errors become BackupErrors. */
export async function * expand (input: Readable, limits: BackupLimits, hash?: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  let compressed = 0
  let validHeader = false
  const counter = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      // A sound first member header (deflate, no reserved flag): a header error later is about bytes after it.
      if (compressed === 0) validHeader = chunk.length >= 10 && chunk[2] === 8 && (chunk[3] & 0xe0) === 0
      if (compressed === 0 && (chunk[0] !== 0x1f || (chunk.length > 1 && chunk[1] !== 0x8b))) {
        return callback(new BackupError('notGzip', 'the file is not gzip-compressed'))
      }
      compressed += chunk.length
      hash?.update(chunk)
      if (compressed > limits.maxArchiveBytes) return callback(new BackupError('tooLarge', 'the archive is over the size limit', { limit: limits.maxArchiveBytes }))
      callback(null, chunk)
    }
  })
  const gunzip = createGunzip()
  pipeline(input, counter, gunzip, () => {})
  let total = 0
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > limits.maxExpandedBytes || (total > limits.ratioFloorBytes && total > compressed * limits.maxRatio)) {
        throw new BackupError('bomb', `the archive expands beyond its caps (${total} bytes from ${compressed})`, { limit: limits.maxExpandedBytes, ratio: limits.maxRatio })
      }
      yield chunk
    }
    if (compressed === 0) throw new BackupError('notGzip', 'the file is empty')
    // zlib stops quietly at bytes that cannot start another member (zeros): they are not part of a backup.
    if (gunzip.bytesWritten < compressed) throw new BackupError('trailingData', `${compressed - gunzip.bytesWritten} bytes follow the end of the compressed data`, { bytes: compressed - gunzip.bytesWritten })
  } catch (error) {
    throw compressed === 0 && !(error instanceof BackupError) ? new BackupError('notGzip', 'the file is empty') : zlibError(error, total, validHeader)
  } finally {
    input.destroy()
    gunzip.destroy()
  }
}

function zlibError (error: unknown, produced: number, validHeader: boolean): unknown {
  if (error instanceof BackupError) return error
  const { code, message } = error as NodeJS.ErrnoException
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(message ?? '')) return new BackupError('truncated', 'the compressed stream ends early', {}, { cause: error })
  // A header error after a sound first header is where a next member would start: bytes appended after the
  // backup (zlib reports it before handing over the data it decompressed, so `produced` may still be 0).
  if (code === 'Z_DATA_ERROR' && (produced > 0 || validHeader) && /header check|compression method|flags/i.test(message ?? '')) return new BackupError('trailingData', 'data follows the end of the compressed stream', {}, { cause: error })
  if (code === 'Z_DATA_ERROR' && produced === 0 && /header/i.test(message ?? '')) return new BackupError('notGzip', 'the file is not gzip-compressed', {}, { cause: error })
  if (typeof code === 'string' && code.startsWith('Z_')) return new BackupError('corrupt', `the compressed data is damaged: ${message}`, {}, { cause: error })
  return error
}

async function readAll (body: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > max) throw invalid('size')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** `field` names what is wrong (a JSON path or JSON/size/encoding): shown as is, in every language. */
function invalid (field: string): BackupError {
  return new BackupError('manifestInvalid', `manifest.json is not valid: ${field}`, { detail: field.slice(0, 120) })
}

/** Checks a parsed manifest's shape; everything later relies on it. */
export function validateManifest (value: unknown): Manifest {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('JSON')
  const m = value as Record<string, unknown>
  if (m.format !== FORMAT_NAME) throw invalid('format')
  if (typeof m.formatVersion !== 'number') throw invalid('formatVersion')
  if (m.formatVersion !== FORMAT_VERSION) {
    throw new BackupError('formatVersion', `unsupported format version ${JSON.stringify(m.formatVersion)}`, { version: String(m.formatVersion).slice(0, 20), supported: FORMAT_VERSION })
  }
  if (typeof m.appVersion !== 'string' || m.appVersion.length > 64) throw invalid('appVersion')
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt))) throw invalid('createdAt')
  if (!isProvider(m.sourceProvider)) throw invalid('sourceProvider')
  if (typeof m.migration !== 'string' || !/^[A-Za-z0-9_-]{1,200}$/.test(m.migration)) throw invalid('migration')
  if (!Array.isArray(m.tables) || m.tables.length > 1000) throw invalid('tables')
  const names = new Set<string>()
  for (const [index, t] of (m.tables as unknown[]).entries()) {
    const where = `tables[${index}]`
    if (t === null || typeof t !== 'object') throw invalid(where)
    const table = t as Record<string, unknown>
    if (typeof table.name !== 'string' || !isIdentifier(table.name) || table.name.length > 64) throw invalid(`${where}.name`)
    if (names.has(table.name)) throw invalid(`${where}.name`)
    names.add(table.name)
    if (table.file !== dataFileName(table.name)) throw invalid(`${where}.file`)
    if (!Number.isSafeInteger(table.rows) || (table.rows as number) < 0) throw invalid(`${where}.rows`)
    if (typeof table.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(table.sha256)) throw invalid(`${where}.sha256`)
    if (!Array.isArray(table.columns) || table.columns.length === 0 || table.columns.length > 500) throw invalid(`${where}.columns`)
    const columnNames = new Set<string>()
    for (const [ci, c] of (table.columns as unknown[]).entries()) {
      const column = c as Partial<ColumnSpec> | null
      if (column === null || typeof column !== 'object' || typeof column.name !== 'string' || !isIdentifier(column.name) ||
        column.name.length > 64 || columnNames.has(column.name) || !(COLUMN_TYPES as readonly unknown[]).includes(column.type) ||
        typeof column.nullable !== 'boolean' || (column.autoincrement !== undefined && typeof column.autoincrement !== 'boolean')) {
        throw invalid(`${where}.columns[${ci}]`)
      }
      columnNames.add(column.name)
    }
  }
  return m as unknown as Manifest
}

/**
 * The manifest may only agree with the app's schema at the backup's level: the same tables, the same columns
 * with the same types, nullability and autoincrement, referenced tables first. Returns the app's tables in the
 * manifest's order (what the scan checks rows against and the restore writes).
 */
export function checkAgainstSchema (manifest: Manifest, expected: TableSpec[]): TableSpec[] {
  if (manifest.tables.length === 0) throw new BackupError('schemaNoTables', 'the manifest lists no table')
  const byName = new Map(expected.map(t => [t.name, t]))
  const ordered: TableSpec[] = []
  for (const table of manifest.tables) {
    const spec = byName.get(table.name)
    if (!spec) throw new BackupError('schemaUnknownTable', `${table.name} is not one of the app's tables`, { name: table.name })
    for (const column of table.columns) {
      const want = spec.columns.find(c => c.name === column.name)
      const where = { name: table.name, column: column.name }
      if (!want) throw new BackupError('schemaUnknownColumn', `${table.name}.${column.name} is not a column of the app's table`, where)
      if (want.type !== column.type) throw new BackupError('schemaColumnType', `${table.name}.${column.name} is ${column.type} in the manifest, ${want.type} in the app`, { ...where, type: column.type, expected: want.type })
      if (want.nullable !== column.nullable) throw new BackupError('schemaNullable', `${table.name}.${column.name}: nullable ${column.nullable} in the manifest`, where)
      if (Boolean(want.autoincrement) !== Boolean(column.autoincrement)) throw new BackupError('schemaAutoincrement', `${table.name}.${column.name}: autoincrement ${Boolean(column.autoincrement)} in the manifest`, where)
    }
    const missing = spec.columns.find(c => !table.columns.some(m => m.name === c.name))
    if (missing) throw new BackupError('schemaMissingColumn', `${table.name}.${missing.name} is missing from the manifest`, { name: table.name, column: missing.name })
    const later = spec.references.find(r => !ordered.some(t => t.name === r))
    if (later !== undefined && manifest.tables.some(t => t.name === later)) {
      throw new BackupError('schemaTableOrder', `${table.name} is listed before ${later}, which it references`, { name: table.name, referenced: later })
    }
    ordered.push(spec)
  }
  const absent = expected.find(t => !manifest.tables.some(m => m.name === t.name))
  if (absent) throw new BackupError('schemaMissingTable', `the backup has no table ${absent.name}`, { name: absent.name })
  return ordered
}

/** The backup's level must be one of this app's migrations for the target engine. */
export async function checkMigrationLevel (migration: string, provider: Provider, migrationsDir: string, local?: LocalMigration[]): Promise<void> {
  const names = (local ?? await listLocalMigrations(provider, { migrationsDir })).map(m => m.name)
  if (names.includes(migration)) return
  const latest = names.at(-1)
  if (latest === undefined || migration > latest) {
    throw new BackupError('newerMigration', `the backup is at migration ${migration}, newer than this app's ${latest ?? '(none)'}`, { migration, latest: latest ?? '' })
  }
  throw new BackupError('unknownMigration', `the backup's migration ${migration} is not one of this app's`, { migration })
}

/**
 * The primary-key and unique values seen so far, per constraint: what duplicates and foreign keys are checked
 * against. A key is kept as a number, a short string, or a 20-byte digest of a long one: memory grows with the
 * number of keys, never with the size of the rows.
 */
class KeyIndex {
  readonly sets = new Map<string, KeySet>()
  static id (table: string, columns: string[]): string { return `${table}(${columns.join(',')})` }
  set (table: string, columns: string[]): KeySet | undefined { return this.sets.get(KeyIndex.id(table, columns)) }
  create (table: string, columns: string[]): KeySet {
    const set = new KeySet()
    this.sets.set(KeyIndex.id(table, columns), set)
    return set
  }
}

/**
 * A set of keys where increasing integers (a backup is written in primary-key order) are kept as runs
 * [start, end]: a million consecutive ids take two numbers, not a million set entries.
 */
class KeySet {
  private readonly starts: number[] = []
  private readonly ends: number[] = []
  private readonly other = new Set<number | string>()

  has (key: number | string): boolean {
    if (typeof key === 'number' && this.ends.length > 0 && key >= this.starts[0] && key <= this.ends[this.ends.length - 1]) {
      let lo = 0
      let hi = this.starts.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if (this.starts[mid] <= key) lo = mid
        else hi = mid - 1
      }
      if (key <= this.ends[lo] && Number.isInteger(key)) return true
    }
    return this.other.size > 0 && this.other.has(key)
  }

  /** Adds a key not already in the set. */
  add (key: number | string): void {
    if (typeof key === 'number' && Number.isSafeInteger(key)) {
      const n = this.ends.length
      if (n > 0 && key === this.ends[n - 1] + 1) { this.ends[n - 1] = key; return }
      if (n === 0 || key > this.ends[n - 1]) { this.starts.push(key); this.ends.push(key); return }
    }
    this.other.add(key)
  }
}

/** MySQL's utf8mb4_unicode_ci compares case- and accent-insensitively, ignoring trailing spaces: close enough. */
function foldText (text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/ +$/, '')
}

function keyOf (values: Value[], indexes: number[], fold: boolean[]): number | string | null {
  if (indexes.length === 1) {
    const v = values[indexes[0]]
    if (v === null || v === undefined) return null
    if (typeof v === 'number') return v
  }
  let text = ''
  for (let i = 0; i < indexes.length; i++) {
    const v = values[indexes[i]]
    if (v === null || v === undefined) return null // SQL: a NULL never collides
    const part = typeof v === 'string' ? (fold[i] ? foldText(v) : v) : v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'object' ? JSON.stringify(v) : String(v)
    text += (i > 0 ? '\u0001' : '') + part
  }
  return text.length <= 40 ? `=${text}` : `#${createHash('sha1').update(text).digest('base64')}`
}

/** The checks of one table's rows against the app's schema and the target engine's limits. */
class RowChecker {
  private readonly limits: Array<ColumnLimit | undefined>
  private readonly formats: Array<RegExp | undefined>
  private readonly uniques: Array<{ columns: string[], indexes: number[], fold: boolean[], seen: KeySet }>
  private readonly references: Array<{ column: string, table: string, indexes: number[], fold: boolean[], parent: KeySet | undefined, self: boolean, pending?: Map<number | string, number> }>
  private readonly hasDecimal: boolean

  constructor (readonly table: TableSpec, limits: Map<string, ColumnLimit>, formats: Readonly<Record<string, ValueFormat>>, keys: KeyIndex) {
    const columns = table.columns
    this.limits = columns.map(c => limits.get(`${table.name}.${c.name}`))
    this.formats = columns.map(c => formats[`${table.name}.${c.name}`] ? VALUE_FORMATS[formats[`${table.name}.${c.name}`]] : undefined)
    const indexOf = (name: string) => columns.findIndex(c => c.name === name)
    const foldOf = (names: string[]) => names.map(n => Boolean(limits.get(`${table.name}.${n}`)?.foldCase))
    this.uniques = (table.uniques ?? [table.key]).map(u => ({ columns: u, indexes: u.map(indexOf), fold: foldOf(u), seen: keys.create(table.name, u) }))
    this.references = (table.foreignKeys ?? []).map(fk => ({
      column: fk.columns.join(', '),
      table: fk.table,
      indexes: fk.columns.map(indexOf),
      fold: foldOf(fk.columns),
      parent: keys.set(fk.table, fk.references),
      self: fk.table === table.name,
      pending: fk.table === table.name ? new Map() : undefined
    }))
    this.hasDecimal = columns.some(c => c.type === 'Decimal')
  }

  /** The first problem of a decoded row, or null; `line` is the raw JSON text (a fast NUL and surrogate screen). */
  check (values: Value[], line: string, lineNo: number, file: string): BackupError | null {
    const columns = this.table.columns
    const at = (column: string) => ({ name: file, line: lineNo, column })
    const escapes = line.includes('\\u')
    for (let i = 0; i < columns.length; i++) {
      const v = values[i]
      if (v === null || v === undefined) continue
      const column = columns[i]
      const limit = this.limits[i]
      if (typeof v === 'string') {
        if (escapes && !(v as string & { isWellFormed(): boolean }).isWellFormed()) return new BackupError('invalidUtf8', `${file}, line ${lineNo}: ${column.name} holds a lone surrogate`, { name: file, line: lineNo })
        if (limit?.noNul && v.includes('\u0000')) return new BackupError('rowNul', `${file}, line ${lineNo}: NUL in ${column.name}`, at(column.name))
        if (limit?.maxChars !== undefined && v.length > limit.maxChars) {
          let chars = 0
          for (const _ of v) chars++
          if (chars > limit.maxChars) return new BackupError('rowTooLongChars', `${file}, line ${lineNo}: ${column.name} is ${chars} characters`, { ...at(column.name), limit: limit.maxChars })
        }
        if (limit?.maxBytes !== undefined && v.length * 3 > limit.maxBytes && Buffer.byteLength(v) > limit.maxBytes) {
          return new BackupError('rowTooLongBytes', `${file}, line ${lineNo}: ${column.name} is over ${limit.maxBytes} bytes`, { ...at(column.name), limit: limit.maxBytes })
        }
        const format = this.formats[i]
        if (format && !format.test(v)) return new BackupError('rowPasswordHash', `${file}, line ${lineNo}: ${column.name} is not in a format the app verifies`, at(column.name))
      } else if (v instanceof Date) {
        const year = v.getUTCFullYear()
        if (limit?.minYear !== undefined && (year < limit.minYear || year > limit.maxYear!)) return new BackupError('rowOutOfRange', `${file}, line ${lineNo}: ${column.name} is out of the engine's range`, at(column.name))
      } else if (typeof v === 'number') {
        if (limit?.finiteFloat && !Number.isFinite(v)) return new BackupError('rowOutOfRange', `${file}, line ${lineNo}: ${column.name} is not finite`, at(column.name))
      } else if (column.type === 'Json' && limit?.noNul && escapes && JSON.stringify(v).includes('\\u0000')) {
        return new BackupError('rowNul', `${file}, line ${lineNo}: NUL in ${column.name}`, at(column.name))
      }
      if (this.hasDecimal && column.type === 'Decimal' && limit?.decimal && !decimalFits(String(v), limit.decimal)) {
        return new BackupError('rowOutOfRange', `${file}, line ${lineNo}: ${column.name} is over DECIMAL(${limit.decimal.integer + limit.decimal.fraction},${limit.decimal.fraction})`, at(column.name))
      }
    }
    for (const unique of this.uniques) {
      const key = keyOf(values, unique.indexes, unique.fold)
      if (key === null) continue
      if (unique.seen.has(key)) return new BackupError('rowDuplicate', `${file}, line ${lineNo}: duplicate ${unique.columns.join(', ')}`, at(unique.columns.join(', ')))
      unique.seen.add(key)
    }
    for (const ref of this.references) {
      if (!ref.parent) continue
      const key = keyOf(values, ref.indexes, ref.fold)
      if (key === null || ref.parent.has(key)) continue
      // A row may reference a later row of its own table: resolved at the end of the table.
      if (ref.self) { if (!ref.pending!.has(key)) ref.pending!.set(key, lineNo); continue }
      return new BackupError('rowForeignKey', `${file}, line ${lineNo}: ${ref.column} names no row of ${ref.table}`, { ...at(ref.column), table: ref.table })
    }
    return null
  }

  /** References to rows of the same table that never came. */
  finish (file: string): BackupError | null {
    for (const ref of this.references) {
      for (const [key, lineNo] of ref.pending ?? []) {
        if (!ref.parent!.has(key)) return new BackupError('rowForeignKey', `${file}, line ${lineNo}: ${ref.column} names no row of ${ref.table}`, { name: file, line: lineNo, column: ref.column, table: ref.table })
      }
      ref.pending?.clear()
    }
    return null
  }
}

/** Whether a decimal's digits fit the engine's DECIMAL (Prisma's default on PostgreSQL and MySQL: DECIMAL(65,30)). */
function decimalFits (text: string, digits: { integer: number, fraction: number }): boolean {
  const m = text.match(/^-?(\d+)(?:\.(\d+))?$/)
  if (!m) return true // exponent forms: left to the engine
  const integer = m[1].replace(/^0+(?=\d)/, '')
  return integer.length <= digits.integer && (m[2]?.length ?? 0) <= digits.fraction
}

/** Scans a decompressed archive from start to end; throws a BackupError at the first problem. */
export async function scanBackup (source: AsyncIterable<Buffer>, options: ScanOptions): Promise<ScanResult> {
  const { limits } = options
  let manifest: Manifest | undefined
  let tables: TableSpec[] = []
  let engine: Map<string, ColumnLimit> = new Map()
  const keys = new KeyIndex()
  const seen = new Set<string>()
  const accounts: RestoredAccount[] = []
  const problems = { count: 0 }
  let next = 0
  await readTar(source, async (header, body) => {
    if (seen.has(header.name)) throw new BackupError('duplicateEntry', `${header.name} appears twice`, { name: header.name })
    seen.add(header.name)
    if (manifest === undefined) {
      if (header.name !== MANIFEST_NAME) throw new BackupError('manifestFirst', `the first entry is ${header.name}, not ${MANIFEST_NAME}`, { name: header.name })
      if (header.size > limits.maxManifestBytes) throw invalid('size')
      const bytes = await readAll(body, limits.maxManifestBytes)
      if (!isUtf8(bytes)) throw new BackupError('invalidUtf8', 'manifest.json is not UTF-8', { name: MANIFEST_NAME, line: 1 })
      let parsed: unknown
      try {
        parsed = JSON.parse(bytes.toString('utf8'))
      } catch {
        throw invalid('JSON')
      }
      manifest = validateManifest(parsed)
      const migrationsDir = options.schema.migrationsDir(options.provider)
      const local = await listLocalMigrations(options.provider, { migrationsDir })
      await checkMigrationLevel(manifest.migration, options.provider, migrationsDir, local)
      const expected = await (options.tables ?? (level => appSchema(options.schema, level)))(manifest.migration)
      tables = checkAgainstSchema(manifest, expected)
      engine = engineOf(options.provider).backup.limits(tables, local, manifest.migration)
      // From here on the app's own description of each table is used, never the manifest's.
      manifest.tables.forEach((t, i) => { t.columns = tables[i].columns })
      await options.onManifest?.(manifest, tables)
      return
    }
    const index = manifest.tables.findIndex(t => t.file === header.name)
    if (index === -1) throw new BackupError('unlistedFile', `${header.name} is not listed in the manifest`, { name: header.name })
    if (index !== next) {
      throw new BackupError('entryOrder', `${header.name} comes where the manifest lists ${manifest.tables[next].file}`, { name: header.name, expected: manifest.tables[next].file })
    }
    next++
    const checker = new RowChecker(tables[index], engine, options.schema.valueFormats ?? {}, keys)
    await scanTable(manifest.tables[index], checker, body, options, accounts, problems)
  })
  if (manifest === undefined) throw new BackupError('manifestFirst', 'the archive is empty')
  if (next < manifest.tables.length) {
    throw new BackupError('missingFile', `${manifest.tables[next].file} is missing from the archive`, { name: manifest.tables[next].file })
  }
  return { manifest, tables, admins: accounts.slice(0, MAX_ADMINS_SHOWN).map(a => a.username), accounts, problems: problems.count }
}

async function scanTable (table: ManifestTable, checker: RowChecker, body: AsyncIterable<Buffer>, options: ScanOptions, accounts: RestoredAccount[], problems: { count: number }): Promise<void> {
  const { maxLineBytes } = options.limits
  const batchSize = options.batchSize ?? 1000
  const hash = createHash('sha256')
  // The app's administrators, as its admin store describes their table: the admin step names them.
  const admins = options.admin?.table?.name === table.name ? options.admin.table : undefined
  const usernameIndex = admins ? table.columns.findIndex(c => c.name === admins.username) : -1
  const emailIndex = admins ? table.columns.findIndex(c => c.name === admins.email) : -1
  let rows = 0
  let batch: Value[][] = []
  let pending: Buffer[] = []
  let pendingLength = 0
  const report = (problem: BackupError) => {
    problems.count++
    if (!options.onProblem) throw problem
    options.onProblem(problem)
  }

  const line = (bytes: Buffer) => {
    rows++
    if (rows > table.rows) throw new BackupError('rowCount', `${table.file} holds more rows than the manifest says (${table.rows})`, { name: table.file, expected: table.rows })
    if (!utf8Checked && !isUtf8(bytes)) return report(new BackupError('invalidUtf8', `${table.file}, line ${rows} is not UTF-8`, { name: table.file, line: rows }))
    const text = bytes.toString('utf8')
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return report(new BackupError('rowNotJson', `${table.file}, line ${rows} is not JSON`, { name: table.file, line: rows }))
    }
    let values: Value[]
    try {
      values = decodeRow(table.columns, parsed)
    } catch (error) {
      if (!(error instanceof RowProblem)) throw error
      return report(new BackupError(error.code, `${table.file}, line ${rows}: ${error.message}`, { name: table.file, line: rows, column: error.column || '-', type: error.type }))
    }
    const problem = checker.check(values, text, rows, table.file)
    if (problem) return report(problem)
    if (usernameIndex !== -1 && accounts.length < MAX_ACCOUNTS_KEPT) {
      accounts.push({ username: String(values[usernameIndex]), email: emailIndex === -1 ? '' : String(values[emailIndex] ?? '') })
    }
    batch.push(values)
  }

  // The lines that lie whole in a chunk are checked for UTF-8 at once (a newline is always a character
  // boundary); only a chunk that fails, and lines spanning chunks, are checked line by line.
  let utf8Checked = false
  for await (const chunk of body) {
    hash.update(chunk)
    let start = 0
    const lastNewline = chunk.lastIndexOf(0x0a)
    const firstNewline = pendingLength > 0 ? chunk.indexOf(0x0a) : -1
    for (;;) {
      const end = chunk.indexOf(0x0a, start)
      if (end === -1) break
      const lineLength = pendingLength + end - start
      if (lineLength > maxLineBytes) throw lineTooLong(table, rows + 1, maxLineBytes)
      if (pendingLength > 0) {
        pending.push(chunk.subarray(start, end))
        utf8Checked = false
        line(Buffer.concat(pending))
        pending = []
        pendingLength = 0
        utf8Checked = lastNewline > end && isUtf8(chunk.subarray(end + 1, lastNewline))
      } else {
        if (start === 0 && firstNewline === -1) utf8Checked = lastNewline > 0 && isUtf8(chunk.subarray(0, lastNewline))
        line(chunk.subarray(start, end))
      }
      start = end + 1
    }
    if (start < chunk.length) {
      pendingLength += chunk.length - start
      if (pendingLength > maxLineBytes) throw lineTooLong(table, rows + 1, maxLineBytes)
      pending.push(chunk.subarray(start))
    }
    if (batch.length >= batchSize) {
      if (options.onRows && problems.count === 0) await options.onRows(table, batch)
      batch = []
    }
  }
  if (pendingLength > 0) throw new BackupError('rowNoNewline', `${table.file} does not end with a newline`, { name: table.file, line: rows + 1 })
  const digest = hash.digest('hex')
  if (digest !== table.sha256) throw new BackupError('checksum', `${table.file}: sha256 ${digest} differs from the manifest`, { name: table.file })
  if (rows !== table.rows) throw new BackupError('rowCount', `${table.file} holds ${rows} rows, the manifest says ${table.rows}`, { name: table.file, expected: table.rows })
  const unresolved = checker.finish(table.file)
  if (unresolved) report(unresolved)
  if (batch.length > 0 && options.onRows && problems.count === 0) await options.onRows(table, batch)
}

function lineTooLong (table: ManifestTable, line: number, max: number): BackupError {
  return new BackupError('lineTooLong', `${table.file}, line ${line} is over ${max} bytes`, { name: table.file, line, limit: max })
}

/** Opens an archive file for scanning, refusing a missing or oversized file first. */
export async function openArchive (file: string, limits: BackupLimits): Promise<{ source: AsyncIterable<Buffer>, bytes: number, sha256: () => string }> {
  let info
  try {
    info = await stat(file)
  } catch (error) {
    throw new BackupError('notFound', `cannot read ${file}`, { path: file }, { cause: error })
  }
  if (!info.isFile()) throw new BackupError('notFound', `${file} is not a regular file`, { path: file })
  if (info.size > limits.maxArchiveBytes) throw new BackupError('tooLarge', `${file} is over the size limit`, { limit: limits.maxArchiveBytes })
  // The file's sha256, computed as it is read: known once the scan read it to the end.
  const hash = createHash('sha256')
  return { source: expand(createReadStream(file, { highWaterMark: 256 * 1024 }), limits, hash), bytes: info.size, sha256: () => hash.digest('hex') }
}

/** Verifies a backup file completely, writing nothing; returns what a restore would load. Throws the first problem. */
export async function verifyBackup (file: string, options: Omit<ScanOptions, 'onRows' | 'onManifest' | 'onProblem'>): Promise<BackupSummary> {
  const { source, bytes, sha256 } = await openArchive(file, options.limits)
  const { manifest, admins, accounts } = await scanBackup(source, options)
  return summarize(manifest, admins, bytes, accounts, sha256())
}

export interface VerifyFileOptions {
  /** the engine the backup would be restored into: its limits apply */
  provider: Provider
  schema: BackupSchema
  admin?: ScanOptions['admin']
  /** default: backupLimits(env) */
  limits?: BackupLimits
  env?: NodeJS.ProcessEnv
  tables?: ScanOptions['tables']
  /** stop after this many row problems (default 100) */
  maxProblems?: number
}

export interface VerifyProblem {
  code: string
  /** the i18n key of the localized message, and its parameters */
  key: string
  params: Record<string, string | number>
  /** for logs and terminals (English) */
  message: string
}

export interface VerifyReport {
  ok: boolean
  /** present when ok */
  summary?: BackupSummary
  /** every problem found (row problems are all listed up to maxProblems; a structural one ends the scan) */
  problems: VerifyProblem[]
}

/**
 * Verification without the wizard (`npm run backup:verify`, `amorce backup verify`): never throws for a bad
 * backup, reads the whole file and lists every problem; writes nothing.
 */
export async function verifyBackupFile (file: string, options: VerifyFileOptions): Promise<VerifyReport> {
  const limits = options.limits ?? backupLimits(options.env ?? process.env)
  const max = options.maxProblems ?? 100
  const problems: VerifyProblem[] = []
  const add = (error: BackupError) => { problems.push({ code: error.code, key: error.i18n.key, params: error.params, message: error.message }) }
  const stop = new Error('too many problems')
  try {
    const { source, bytes, sha256 } = await openArchive(file, limits)
    const { manifest, admins, accounts } = await scanBackup(source, {
      limits,
      provider: options.provider,
      schema: options.schema,
      admin: options.admin,
      tables: options.tables,
      onProblem: problem => {
        add(problem)
        if (problems.length >= max) throw stop
      }
    })
    if (problems.length > 0) return { ok: false, problems }
    return { ok: true, summary: summarize(manifest, admins, bytes, accounts, sha256()), problems }
  } catch (error) {
    if (error === stop) return { ok: false, problems }
    if (error instanceof BackupError) {
      add(error)
      return { ok: false, problems }
    }
    throw error
  }
}

/** The sha256 of the file's bytes: binds a verified summary to exactly this file. */
export async function sha256File (file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export function summarize (manifest: Manifest, admins: string[], bytes: number, accounts: RestoredAccount[] = [], sha256?: string): BackupSummary {
  return {
    formatVersion: manifest.formatVersion,
    appVersion: manifest.appVersion,
    createdAt: manifest.createdAt,
    sourceProvider: manifest.sourceProvider,
    migration: manifest.migration,
    tables: manifest.tables.map(t => ({ name: t.name, rows: t.rows })),
    totalRows: manifest.tables.reduce((sum, t) => sum + t.rows, 0),
    admins,
    accounts,
    bytes,
    ...(sha256 ? { sha256 } : {})
  }
}
