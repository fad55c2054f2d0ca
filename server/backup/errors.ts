// Why a backup was refused or could not be made or restored. The code names an i18n key under
// setup.restore.errors.*; the message is for logs only (never shown, never holds a secret).
export type BackupErrorCode =
  | 'notGzip' // the file is not gzip-compressed
  | 'truncated' // the archive ends early
  | 'corrupt' // gzip or tar structure is broken (bad header checksum, bad size field)
  | 'tooLarge' // the upload is over BACKUP_MAX_BYTES
  | 'bomb' // the expanded size or the expansion ratio is over its cap
  | 'unsafePath' // an entry with an absolute path, `..`, or a name this format does not use
  | 'entryType' // a symlink, hard link, device, directory or extended header
  | 'duplicateEntry'
  | 'manifestFirst' // the first entry is not manifest.json
  | 'manifestInvalid'
  | 'formatVersion' // a format version this app does not read
  | 'unknownMigration' // the backup's migration level does not exist in this app
  | 'newerMigration' // the backup was taken by a newer version of the app
  | 'missingFile' // listed in the manifest, absent from the archive
  | 'unlistedFile' // in the archive, not in the manifest
  | 'checksum' // a data file's sha256 differs from the manifest
  | 'rowCount' // a data file's row count differs from the manifest
  | 'lineTooLong' // one JSON line is over the limit
  | 'badRow' // a line is not JSON, or a row does not match its table's columns
  | 'unknownTable' // the target database at the backup's level lacks a table or column of the backup
  | 'targetNotEmpty' // the target database already holds rows
  | 'notFound' // the path on the server does not exist or is not a readable file
  | 'database' // the database refused the restored rows

export class BackupError extends Error {
  override name = 'BackupError'
  constructor (readonly code: BackupErrorCode, message: string, readonly params: Record<string, string | number> = {}, options?: { cause?: unknown }) {
    super(message, options)
  }

  /** The localized message's key and parameters. */
  get i18n (): { key: string, params: Record<string, string | number> } {
    return { key: `setup.restore.errors.${this.code}`, params: this.params }
  }
}
