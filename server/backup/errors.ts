// Why a backup was refused or could not be made or restored. The code names an i18n key under
// setup.restore.errors.*; the message is for logs only (never shown, never holds a secret).
export type BackupErrorCode =
  | 'notGzip' // the file is not gzip-compressed
  | 'truncated' // the archive ends early
  | 'corrupt' // gzip or tar structure is broken (bad header checksum, bad size field)
  | 'trailingData' // bytes after the end of the gzip stream
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
  | 'entryOrder' // a data file comes where the manifest lists another one (missing or out of order)
  | 'schemaNoTables' // the manifest lists no table
  | 'schemaUnknownTable' // a table that is not one of the app's at the backup's level (sqlite_sequence…)
  | 'schemaMissingTable' // one of the app's tables is absent from the backup
  | 'schemaUnknownColumn' // a column the app's table does not have
  | 'schemaMissingColumn' // a column of the app's table the backup lacks
  | 'schemaColumnType' // the manifest gives a column another type than the app's
  | 'schemaNullable' // the manifest claims a column nullable (or required) against the app's schema
  | 'schemaAutoincrement' // the manifest's autoincrement claim differs from the app's
  | 'schemaTableOrder' // a table listed before a table it references
  | 'invalidUtf8' // bytes that are not UTF-8 (never replaced)
  | 'rowNotJson' // a line is not JSON
  | 'rowNotObject' // a line is JSON but not an object
  | 'rowUnknownColumn'
  | 'rowRequired' // null or absent in a required column
  | 'rowType' // a value that is not of its column's type or format
  | 'rowTooLongChars' // longer than the target column holds (MySQL VARCHAR(n))
  | 'rowTooLongBytes' // more bytes than the target engine holds there (index entry, TEXT)
  | 'rowNul' // U+0000 where the target engine refuses it (PostgreSQL)
  | 'rowOutOfRange' // a date or number the target engine cannot store
  | 'rowDuplicate' // a primary-key or unique value seen twice
  | 'rowForeignKey' // a reference to a row the backup does not hold
  | 'rowPasswordHash' // a password hash the app cannot verify
  | 'rowNoNewline' // the data file does not end with a newline
  | 'checksum' // a data file's sha256 differs from the manifest
  | 'rowCount' // a data file's row count differs from the manifest
  | 'lineTooLong' // one JSON line is over the limit
  | 'unknownTable' // the target database at the backup's level lacks a table or column of the backup
  | 'targetNotEmpty' // the target database already holds rows
  | 'notFound' // the path on the server does not exist or is not a readable file
  | 'database' // the database refused the restored rows
  | 'restoreFailed' // anything else that stopped a restore at install (the cause is logged)

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
