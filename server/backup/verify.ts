// Reading a backup as a stream, checking everything before anything is used: gzip and tar structure, caps on
// size and expansion, safe entry names, the manifest, each file's sha256 and row count, every row against its
// table's columns, and the migration level against this app's migrations for the target engine. The restore
// reads through the same scan, so what was verified is exactly what gets written.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Transform, pipeline, type Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { listLocalMigrations, PROVIDERS, type Provider } from '../db/migrate.ts'
import { decodeRow, RowProblem, type Value } from './codec.ts'
import { BackupError } from './errors.ts'
import { dataFileName, FORMAT_NAME, FORMAT_VERSION, MANIFEST_NAME, type BackupLimits, type BackupSummary, type Manifest, type ManifestTable } from './format.ts'
import { COLUMN_TYPES, isIdentifier, type ColumnSpec } from './schema.ts'
import { readTar } from './tar.ts'

export interface ScanOptions {
  limits: BackupLimits
  /** the engine the backup will be restored into: its migrations must know the backup's level */
  provider: Provider
  migrationsDir?: string
  batchSize?: number
  /** called once the manifest is read and checked, before any data */
  onManifest?: (manifest: Manifest) => Promise<void>
  /** decoded rows of a table, in order, in batches */
  onRows?: (table: ManifestTable, rows: Value[][]) => Promise<void>
}

export interface ScanResult { manifest: Manifest, admins: string[], accounts: RestoredAccount[] }

export interface RestoredAccount { username: string, email: string }

const MAX_ADMINS_SHOWN = 20
/** Accounts kept for the admin step's conflict check: far more than any install has administrators. */
const MAX_ACCOUNTS_KEPT = 1000

/** The decompressed bytes of an archive, with the size and ratio caps; zlib's errors become BackupErrors. */
export async function * expand (input: Readable, limits: BackupLimits): AsyncGenerator<Buffer> {
  let compressed = 0
  const counter = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      if (compressed === 0 && (chunk[0] !== 0x1f || (chunk.length > 1 && chunk[1] !== 0x8b))) {
        return callback(new BackupError('notGzip', 'the file is not gzip-compressed'))
      }
      compressed += chunk.length
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
  } catch (error) {
    throw compressed === 0 && !(error instanceof BackupError) ? new BackupError('notGzip', 'the file is empty') : zlibError(error, total)
  } finally {
    input.destroy()
    gunzip.destroy()
  }
}

function zlibError (error: unknown, produced: number): unknown {
  if (error instanceof BackupError) return error
  const { code, message } = error as NodeJS.ErrnoException
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(message ?? '')) return new BackupError('truncated', 'the compressed stream ends early', {}, { cause: error })
  if (code === 'Z_DATA_ERROR' && produced === 0 && /header/i.test(message ?? '')) return new BackupError('notGzip', 'the file is not gzip-compressed', {}, { cause: error })
  if (typeof code === 'string' && code.startsWith('Z_')) return new BackupError('corrupt', `the compressed data is damaged: ${message}`, {}, { cause: error })
  return error
}

async function readAll (body: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > max) throw new BackupError('manifestInvalid', 'manifest.json is too large', { detail: 'size' })
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function invalid (detail: string): BackupError {
  return new BackupError('manifestInvalid', `manifest.json is not valid: ${detail}`, { detail: detail.slice(0, 200) })
}

/** Checks a parsed manifest's shape; everything later relies on it. */
export function validateManifest (value: unknown): Manifest {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('not a JSON object')
  const m = value as Record<string, unknown>
  if (m.format !== FORMAT_NAME) throw invalid(`format is not "${FORMAT_NAME}"`)
  if (m.formatVersion !== FORMAT_VERSION) {
    throw new BackupError('formatVersion', `unsupported format version ${JSON.stringify(m.formatVersion)}`, { version: String(m.formatVersion).slice(0, 20), supported: FORMAT_VERSION })
  }
  if (typeof m.appVersion !== 'string' || m.appVersion.length > 64) throw invalid('appVersion')
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt))) throw invalid('createdAt')
  if (!(PROVIDERS as readonly unknown[]).includes(m.sourceProvider)) throw invalid('sourceProvider')
  if (typeof m.migration !== 'string' || !/^[A-Za-z0-9_-]{1,200}$/.test(m.migration)) throw invalid('migration')
  if (!Array.isArray(m.tables) || m.tables.length > 1000) throw invalid('tables')
  const names = new Set<string>()
  for (const [index, t] of (m.tables as unknown[]).entries()) {
    const where = `tables[${index}]`
    if (t === null || typeof t !== 'object') throw invalid(where)
    const table = t as Record<string, unknown>
    if (typeof table.name !== 'string' || !isIdentifier(table.name) || table.name.length > 64) throw invalid(`${where}.name`)
    if (names.has(table.name)) throw invalid(`${where}: table ${table.name} is listed twice`)
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

/** The backup's level must be one of this app's migrations for the target engine. */
export async function checkMigrationLevel (migration: string, provider: Provider, migrationsDir?: string): Promise<void> {
  const local = (await listLocalMigrations(provider, { migrationsDir })).map(m => m.name)
  if (local.includes(migration)) return
  const latest = local.at(-1)
  if (latest === undefined || migration > latest) {
    throw new BackupError('newerMigration', `the backup is at migration ${migration}, newer than this app's ${latest ?? '(none)'}`, { migration, latest: latest ?? '' })
  }
  throw new BackupError('unknownMigration', `the backup's migration ${migration} is not one of this app's`, { migration })
}

/** Scans a decompressed archive from start to end; throws a BackupError at the first problem. */
export async function scanBackup (source: AsyncIterable<Buffer>, options: ScanOptions): Promise<ScanResult> {
  const { limits } = options
  let manifest: Manifest | undefined
  const seen = new Set<string>()
  const accounts: RestoredAccount[] = []
  let next = 0
  await readTar(source, async (header, body) => {
    if (seen.has(header.name)) throw new BackupError('duplicateEntry', `${header.name} appears twice`, { name: header.name })
    seen.add(header.name)
    if (manifest === undefined) {
      if (header.name !== MANIFEST_NAME) throw new BackupError('manifestFirst', `the first entry is ${header.name}, not ${MANIFEST_NAME}`, { name: header.name })
      if (header.size > limits.maxManifestBytes) throw invalid('too large')
      let parsed: unknown
      try {
        parsed = JSON.parse((await readAll(body, limits.maxManifestBytes)).toString('utf8'))
      } catch (error) {
        if (error instanceof BackupError) throw error
        throw invalid('not JSON')
      }
      manifest = validateManifest(parsed)
      await checkMigrationLevel(manifest.migration, options.provider, options.migrationsDir)
      await options.onManifest?.(manifest)
      return
    }
    const index = manifest.tables.findIndex(t => t.file === header.name)
    if (index === -1) throw new BackupError('unlistedFile', `${header.name} is not listed in the manifest`, { name: header.name })
    if (index !== next) {
      // Foreign-key order is the manifest's order: a file out of place means a file before it is missing.
      throw new BackupError('missingFile', `${manifest.tables[next].file} is missing from the archive`, { name: manifest.tables[next].file })
    }
    next++
    await scanTable(manifest.tables[index], body, options, accounts)
  })
  if (manifest === undefined) throw new BackupError('manifestFirst', 'the archive is empty')
  if (next < manifest.tables.length) {
    throw new BackupError('missingFile', `${manifest.tables[next].file} is missing from the archive`, { name: manifest.tables[next].file })
  }
  return { manifest, admins: accounts.slice(0, MAX_ADMINS_SHOWN).map(a => a.username), accounts }
}

async function scanTable (table: ManifestTable, body: AsyncIterable<Buffer>, options: ScanOptions, accounts: RestoredAccount[]): Promise<void> {
  const { maxLineBytes } = options.limits
  const batchSize = options.batchSize ?? 1000
  const hash = createHash('sha256')
  const usernameIndex = table.name === 'AdminUser' ? table.columns.findIndex(c => c.name === 'username') : -1
  const emailIndex = table.name === 'AdminUser' ? table.columns.findIndex(c => c.name === 'email') : -1
  let rows = 0
  let batch: Value[][] = []
  let pending: Buffer[] = []
  let pendingLength = 0

  const line = (text: string) => {
    rows++
    if (rows > table.rows) throw new BackupError('rowCount', `${table.file} holds more rows than the manifest says (${table.rows})`, { name: table.file, expected: table.rows })
    let values: Value[]
    try {
      values = decodeRow(table.columns, JSON.parse(text))
    } catch (error) {
      const detail = error instanceof RowProblem ? error.message : 'not a JSON line'
      const column = error instanceof RowProblem ? error.column || '—' : '—'
      throw new BackupError('badRow', `${table.file}, line ${rows}: ${detail}`, { name: table.file, line: rows, column })
    }
    if (usernameIndex !== -1 && accounts.length < MAX_ACCOUNTS_KEPT) {
      accounts.push({ username: String(values[usernameIndex]), email: emailIndex === -1 ? '' : String(values[emailIndex] ?? '') })
    }
    batch.push(values)
  }

  for await (const chunk of body) {
    hash.update(chunk)
    let start = 0
    for (;;) {
      const end = chunk.indexOf(0x0a, start)
      if (end === -1) break
      const lineLength = pendingLength + end - start
      if (lineLength > maxLineBytes) throw lineTooLong(table, rows + 1, maxLineBytes)
      if (pendingLength > 0) {
        pending.push(chunk.subarray(start, end))
        line(Buffer.concat(pending).toString('utf8'))
        pending = []
        pendingLength = 0
      } else {
        line(chunk.toString('utf8', start, end))
      }
      start = end + 1
    }
    if (start < chunk.length) {
      pendingLength += chunk.length - start
      if (pendingLength > maxLineBytes) throw lineTooLong(table, rows + 1, maxLineBytes)
      pending.push(chunk.subarray(start))
    }
    if (batch.length >= batchSize) {
      if (options.onRows) await options.onRows(table, batch)
      batch = []
    }
  }
  if (pendingLength > 0) throw new BackupError('badRow', `${table.file} does not end with a newline`, { name: table.file, line: rows + 1, column: '—' })
  const digest = hash.digest('hex')
  if (digest !== table.sha256) throw new BackupError('checksum', `${table.file}: sha256 ${digest} differs from the manifest`, { name: table.file })
  if (rows !== table.rows) throw new BackupError('rowCount', `${table.file} holds ${rows} rows, the manifest says ${table.rows}`, { name: table.file, expected: table.rows })
  if (batch.length > 0 && options.onRows) await options.onRows(table, batch)
}

function lineTooLong (table: ManifestTable, line: number, max: number): BackupError {
  return new BackupError('lineTooLong', `${table.file}, line ${line} is over ${max} bytes`, { name: table.file, line, limit: max })
}

/** Opens an archive file for scanning, refusing a missing or oversized file first. */
export async function openArchive (file: string, limits: BackupLimits): Promise<{ source: AsyncIterable<Buffer>, bytes: number }> {
  let info
  try {
    info = await stat(file)
  } catch (error) {
    throw new BackupError('notFound', `cannot read ${file}`, { path: file }, { cause: error })
  }
  if (!info.isFile()) throw new BackupError('notFound', `${file} is not a regular file`, { path: file })
  if (info.size > limits.maxArchiveBytes) throw new BackupError('tooLarge', `${file} is over the size limit`, { limit: limits.maxArchiveBytes })
  return { source: expand(createReadStream(file, { highWaterMark: 256 * 1024 }), limits), bytes: info.size }
}

/** Verifies a backup file completely, writing nothing; returns what a restore would load. */
export async function verifyBackup (file: string, options: Omit<ScanOptions, 'onRows' | 'onManifest'>): Promise<BackupSummary> {
  const { source, bytes } = await openArchive(file, options.limits)
  const { manifest, admins, accounts } = await scanBackup(source, options)
  return summarize(manifest, admins, bytes, accounts)
}

export function summarize (manifest: Manifest, admins: string[], bytes: number, accounts: RestoredAccount[] = []): BackupSummary {
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
    bytes
  }
}
