// Making a backup: every table dumped from one read snapshot to a temporary JSON-lines file (hashed and counted
// as it is written), then the archive streamed out: manifest.json first, then each file. Memory stays bounded by
// one batch of rows; the temporary files need the uncompressed size on disk, next to the output.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { engineOf, type DatabaseProvider as Provider } from '../db/engines/index.ts'
import { listLocalMigrations } from '../db/migrations.ts'
import { encodeRow } from './codec.ts'
import { BackupError } from './errors.ts'
import { APP_VERSION, dataFileName, FORMAT_NAME, FORMAT_VERSION, MANIFEST_NAME, type Manifest, type ManifestTable } from './format.ts'
import { appSchema, type TableSpec } from './schema.ts'
import type { BackupSchema } from './verify.ts'
import { END_OF_ARCHIVE, fileHeader, padding } from './tar.ts'

export interface BackupProgress { table: string, rowsDone: number, rowsTotal: number }

export interface CreateBackupOptions {
  provider: Provider
  url: string
  /** where the temporary table files go (default: the OS temporary directory) */
  tmpDir?: string
  /** the app's schema: its migrations (the level the database must be at, and the tables) */
  schema: BackupSchema
  /** the tables to dump (default: the app's, from its SQLite migrations) */
  tables?: TableSpec[]
  batchSize?: number
  onProgress?: (progress: BackupProgress) => void
  /**
   * Accept a database at an older level of this app's migrations (a backup before `amorce migrate deploy`):
   * `tables` must then list the tables and columns as they are at that level.
   */
  olderLevel?: boolean
}

/** Writes a complete backup to `out` (a file stream, an HTTP response…) and returns its manifest. */
export async function createBackup (out: Writable, options: CreateBackupOptions): Promise<Manifest> {
  const tables = options.tables ?? await appSchema(options.schema)
  const work = await mkdtemp(path.join(options.tmpDir ?? tmpdir(), 'amorce-backup-'))
  try {
    const manifest = await dumpTables(work, tables, options)
    await pipeline(archiveStream(work, manifest), createGzip({ level: 6 }), out)
    return manifest
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

async function dumpTables (work: string, tables: TableSpec[], options: CreateBackupOptions): Promise<Manifest> {
  const engine = await engineOf(options.provider).backup.open(options.url)
  try {
    await engine.beginSnapshot()
    const migration = await engine.lastMigration()
    const local = await listLocalMigrations(options.provider, { migrationsDir: options.schema.migrationsDir(options.provider) })
    const latest = local.at(-1)?.name ?? null
    // The columns written come from this app's models, which match the database only at this app's level.
    const known = options.olderLevel === true && migration !== null && local.some(m => m.name === migration)
    if (migration === null || (migration !== latest && !known)) {
      throw new BackupError('unknownMigration', `the database is at migration ${migration ?? '(none)'}, this app expects ${latest ?? '(none)'}: start the app once to migrate it`, { migration: migration ?? '' })
    }
    const counts = new Map<string, number>()
    for (const table of tables) counts.set(table.name, await engine.count(table.name))
    const rowsTotal = [...counts.values()].reduce((a, b) => a + b, 0)
    let rowsDone = 0
    const entries: ManifestTable[] = []
    for (const table of tables) {
      const file = path.join(work, `${table.name}.jsonl`)
      const stream = createWriteStream(file)
      const hash = createHash('sha256')
      let rows = 0
      for await (const batch of engine.readRows(table, options.batchSize ?? 2000)) {
        let text = ''
        for (const values of batch) text += encodeRow(table.columns, values)
        const bytes = Buffer.from(text, 'utf8')
        hash.update(bytes)
        if (!stream.write(bytes)) await once(stream, 'drain')
        rows += batch.length
        rowsDone += batch.length
        options.onProgress?.({ table: table.name, rowsDone, rowsTotal })
      }
      stream.end()
      await once(stream, 'close')
      entries.push({ name: table.name, file: dataFileName(table.name), rows, sha256: hash.digest('hex'), columns: table.columns })
    }
    await engine.commit()
    return {
      format: FORMAT_NAME,
      formatVersion: FORMAT_VERSION,
      appVersion: APP_VERSION,
      createdAt: new Date().toISOString(),
      sourceProvider: options.provider,
      migration,
      tables: entries
    }
  } finally {
    await engine.rollback()
    await engine.close()
  }
}

/** The uncompressed tar, produced on demand (backpressure from gzip and the output). */
function archiveStream (work: string, manifest: Manifest): Readable {
  return Readable.from((async function * () {
    const body = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8')
    const mtime = new Date(manifest.createdAt)
    yield fileHeader(MANIFEST_NAME, body.length, mtime)
    yield body
    yield padding(body.length)
    for (const table of manifest.tables) {
      const file = path.join(work, `${table.name}.jsonl`)
      const { size } = await stat(file)
      yield fileHeader(table.file, size, mtime)
      for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) yield chunk as Buffer
      yield padding(size)
    }
    yield END_OF_ARCHIVE
  })(), { objectMode: false })
}
