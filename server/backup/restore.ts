// Restoring a backup into an empty database: migrate up to the backup's level, load every row inside one
// transaction (rolled back on any problem: a bad row, a checksum found wrong at the end of a file, a refused
// insert), make auto-increment counters continue after the restored ids, then apply the remaining migrations.
// MySQL commits DDL implicitly, so there the migrations run outside that transaction, as on every engine (the
// runner has its own connection); the rows themselves always load in one transaction, so a failure leaves the
// database migrated to the backup's level and empty, ready for another attempt.
import { createHash } from 'node:crypto'
import path from 'node:path'
import { engineOf, type DatabaseProvider as Provider } from '../db/engines/index.ts'
import { migrate, type MigrationProgress } from '../db/migrate.ts'
import type { BackupConnection } from './connection.ts'
import { BackupError } from './errors.ts'
import type { BackupLimits, Manifest } from './format.ts'
import { openArchive, scanBackup, summarize, type ScanOptions } from './verify.ts'
import type { BackupSummary } from './format.ts'
import type { ColumnSpec, TableSpec } from './schema.ts'

export interface RestoreProgress { table: string, rowsDone: number, rowsTotal: number }

export interface RestoreOptions {
  file: string
  provider: Provider
  url: string
  limits: BackupLimits
  /** the app's schema: its migrations for this engine and for SQLite (the tables), its value formats */
  schema: ScanOptions['schema']
  /** where the app keeps its administrators (the accounts the summary lists) */
  admin?: ScanOptions['admin']
  /** the tables expected at a level (default: the app's; see ScanOptions.tables) */
  tables?: ScanOptions['tables']
  batchSize?: number
  onProgress?: (progress: RestoreProgress) => void
  onMigration?: (progress: MigrationProgress) => void
  /**
   * A Setting row written in the same transaction as the data (an install's proof that this restore completed,
   * see `completedBefore`). A row with the same key in the backup itself (a backup of a restored install) is
   * not loaded: it described the other install.
   */
  marker?: { key: string, value: string }
  /** the sha256 of the file that was verified and confirmed: any other file is refused before the commit */
  expectSha256?: string
}

/** The marker a completed restore of `manifest` leaves: one value per backup, whatever the file's name. */
export function restoreMarker (manifest: Manifest): { key: string, value: string } {
  return { key: RESTORE_MARKER_KEY, value: createHash('sha256').update(JSON.stringify(manifest)).digest('hex') }
}

export const RESTORE_MARKER_KEY = 'backup:restored'

/**
 * True when the database already holds this restore, committed (the marker row is there with this value): a
 * resumed install skips the load. Sequences are reset again, as MySQL resets them after its commit.
 */
export async function completedBefore (options: Pick<RestoreOptions, 'provider' | 'url'>, manifest: Manifest, marker: { key: string, value: string }): Promise<boolean> {
  const engine = await engineOf(options.provider).backup.open(options.url)
  try {
    if (await engine.settingValue(marker.key) !== marker.value) return false
    for (const table of manifest.tables) await engine.continueSequences(table.name, table.columns)
    return true
  } finally {
    await engine.close()
  }
}

/** The three steps in order: migrate up to the backup's level, load, migrate the rest. */
export async function restoreBackup (options: RestoreOptions): Promise<BackupSummary> {
  const { manifest } = await readManifest(options)
  const migrationsDir = options.schema.migrationsDir(options.provider)
  await migrate({ provider: options.provider, url: options.url, migrationsDir, upTo: manifest.migration, onProgress: options.onMigration })
  const summary = await loadBackup(options)
  await migrate({ provider: options.provider, url: options.url, migrationsDir, onProgress: options.onMigration })
  return summary
}

/** Only the manifest (checked), without reading the data: what migration level to prepare. */
export async function readManifest (options: Pick<RestoreOptions, 'file' | 'provider' | 'limits' | 'schema'>): Promise<{ manifest: Manifest }> {
  const { source } = await openArchive(options.file, options.limits)
  let found: Manifest | undefined
  const stop = new Error('manifest read')
  try {
    await scanBackup(source, { ...options, onManifest: async manifest => { found = manifest; throw stop } })
  } catch (error) {
    if (error !== stop) throw error
  } finally {
    // Stop reading the file: the data is not needed here.
    await (source as AsyncGenerator).return?.(undefined)
  }
  return { manifest: found! }
}

/** Loads the rows into a database already migrated to the backup's level, in one transaction. */
export async function loadBackup (options: RestoreOptions): Promise<BackupSummary> {
  const engine = await engineOf(options.provider).backup.open(options.url)
  const marker = options.marker
  let writing = false
  // One batch is inserted while the next one is read and checked: the database and the decoding overlap, and
  // at most two batches are in memory. A refused batch is reported at the next batch or at the end.
  let inFlight: Promise<void> = Promise.resolve()
  try {
    const { source, bytes, sha256 } = await openArchive(options.file, options.limits)
    let rowsTotal = 0
    let rowsDone = 0
    let tables: TableSpec[] = []
    const { manifest, admins, accounts } = await scanBackup(source, {
      limits: options.limits,
      provider: options.provider,
      schema: options.schema,
      admin: options.admin,
      tables: options.tables,
      batchSize: options.batchSize ?? engineOf(options.provider).backup.batchSize,
      onManifest: async (manifest, expected) => {
        tables = expected
        await checkTarget(engine, manifest)
        rowsTotal = manifest.tables.reduce((sum, t) => sum + t.rows, 0)
        await engine.beginWrite()
        writing = true
        options.onProgress?.({ table: '', rowsDone: 0, rowsTotal })
      },
      onRows: async (table, batch) => {
        await inFlight
        const rows = marker && table.name === 'Setting' ? batch.filter(row => row[markerKeyIndex(table.columns)] !== marker.key) : batch
        inFlight = engine.insert(table.name, table.columns, rows).then(() => {
          rowsDone += batch.length
          options.onProgress?.({ table: table.name, rowsDone, rowsTotal })
        }, error => {
          throw new BackupError('database', `the database refused rows of ${table.name}: ${(error as Error).message}`, { name: table.name }, { cause: error })
        })
        inFlight.catch(() => {}) // awaited at the next batch or below; not an unhandled rejection meanwhile
      }
    })
    await inFlight
    const digest = sha256()
    if (options.expectSha256 !== undefined && digest !== options.expectSha256) {
      throw new BackupError('checksum', 'the backup file changed since it was verified', { name: path.basename(options.file) })
    }
    // An engine that loaded without checking foreign keys checks them all now, inside the transaction.
    await engine.checkForeignKeys(tables)
    if (marker) await writeMarker(engine, manifest, marker)
    if (!engine.sequencesAfterCommit) for (const table of manifest.tables) await engine.continueSequences(table.name, table.columns)
    await engine.commit()
    writing = false
    if (engine.sequencesAfterCommit) for (const table of manifest.tables) await engine.continueSequences(table.name, table.columns)
    return summarize(manifest, admins, bytes, accounts, digest)
  } catch (error) {
    await inFlight.catch(() => {})
    if (writing) await engine.rollback()
    throw error
  } finally {
    await engine.close()
  }
}

/** Every table of the backup exists at this level with every column, and holds no row yet. */
async function checkTarget (engine: BackupConnection, manifest: Manifest): Promise<void> {
  for (const table of manifest.tables) {
    const columns = await engine.columnsOf(table.name)
    if (columns === null) throw new BackupError('unknownTable', `the database has no table ${table.name}`, { name: table.name })
    const missing = table.columns.find(c => !columns.includes(c.name))
    if (missing) throw new BackupError('unknownTable', `the table ${table.name} has no column ${missing.name}`, { name: `${table.name}.${missing.name}` })
    if (await engine.count(table.name) > 0) throw new BackupError('targetNotEmpty', `the table ${table.name} already holds rows`, { name: table.name })
  }
}

function markerKeyIndex (columns: ColumnSpec[]): number {
  return columns.findIndex(c => c.name === 'key')
}

/** The marker row, in the Setting table as the backup's level has it (required dates get the current time). */
async function writeMarker (engine: BackupConnection, manifest: Manifest, marker: { key: string, value: string }): Promise<void> {
  const setting = manifest.tables.find(t => t.name === 'Setting')
  if (!setting || markerKeyIndex(setting.columns) === -1 || !setting.columns.some(c => c.name === 'value')) {
    throw new BackupError('unknownTable', 'the backup has no Setting table (key, value) to record the restore in', { name: 'Setting' })
  }
  const now = new Date()
  const row = setting.columns.map(c => c.name === 'key' ? marker.key : c.name === 'value' ? marker.value : c.type === 'DateTime' && !c.nullable ? now : null)
  await engine.insert('Setting', setting.columns, [row])
}
