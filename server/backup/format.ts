// The backup format's constants and manifest (docs/backup-format.md): a .tar.gz with manifest.json first, then
// one JSON-lines file per table, in foreign-key order.
import { readFileSync } from 'node:fs'
import type { Provider } from '../db/migrate.ts'
import type { ColumnSpec } from './schema.ts'
import { fromPackageRoot } from '../paths.ts'

export const FORMAT_NAME = 'amorce-backup'
export const FORMAT_VERSION = 1
export const MANIFEST_NAME = 'manifest.json'
export const APP_VERSION: string = JSON.parse(readFileSync(fromPackageRoot('package.json'), 'utf8')).version

export function dataFileName (table: string): string {
  return `data/${table}.jsonl`
}

export interface ManifestTable {
  name: string
  file: string
  rows: number
  /** sha256 (hex) of the data file's exact bytes */
  sha256: string
  columns: ColumnSpec[]
}

export interface Manifest {
  format: typeof FORMAT_NAME
  formatVersion: number
  appVersion: string
  /** ISO-8601, UTC, milliseconds */
  createdAt: string
  sourceProvider: Provider
  /** the last migration applied to the source database: the schema level of the data */
  migration: string
  tables: ManifestTable[]
}

/** What a person is shown before confirming a restore (and what the wizard keeps in its session). */
export interface BackupSummary {
  formatVersion: number
  appVersion: string
  createdAt: string
  sourceProvider: Provider
  migration: string
  tables: Array<{ name: string, rows: number }>
  totalRows: number
  /** usernames of the administrator accounts the backup holds (at most 20) */
  admins: string[]
  /** the administrator accounts the backup holds (at most 1000): a new administrator must not reuse one */
  accounts?: Array<{ username: string, email: string }>
  /** compressed size in bytes */
  bytes: number
  /** sha256 of the verified file: the install restores only this very file */
  sha256?: string
}

/** Limits applied to every archive read; BACKUP_MAX_BYTES sets maxArchiveBytes. */
export interface BackupLimits {
  /** the compressed file (and an upload) */
  maxArchiveBytes: number
  /** everything gunzip produces */
  maxExpandedBytes: number
  /** expanded / compressed, checked once more than ratioFloorBytes came out */
  maxRatio: number
  ratioFloorBytes: number
  /** one JSON line of a data file */
  maxLineBytes: number
  maxManifestBytes: number
}

export const DEFAULT_MAX_ARCHIVE_BYTES = 1024 ** 3

export function backupLimits (env: NodeJS.ProcessEnv = process.env, overrides: Partial<BackupLimits> = {}): BackupLimits {
  const raw = env.BACKUP_MAX_BYTES?.trim()
  const parsed = raw ? parseByteSize(raw) : DEFAULT_MAX_ARCHIVE_BYTES
  const maxArchiveBytes = parsed ?? DEFAULT_MAX_ARCHIVE_BYTES
  return {
    maxArchiveBytes,
    // JSON lines of real tables compress 5 to 30 times; a gzip bomb about 1000 times.
    maxExpandedBytes: Math.max(maxArchiveBytes * 50, 64 * 1024 ** 2),
    maxRatio: 200,
    ratioFloorBytes: 64 * 1024 ** 2,
    maxLineBytes: 8 * 1024 ** 2,
    maxManifestBytes: 4 * 1024 ** 2,
    ...overrides
  }
}

/** `1073741824`, `500M`, `2G`, `1.5GiB`… → bytes; null when unreadable. */
export function parseByteSize (text: string): number | null {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i)
  if (!m) return null
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  const bytes = Math.floor(Number(m[1]) * scale)
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null
}
