// The engine contract: everything Amorce knows about one database engine, in one module per engine
// (server/db/engines/<name>.ts): its id and label, its URL, its probe and error causes, its Prisma client adapter,
// its migration driver and its backup driver. The list is server/db/engines/index.ts; nothing else names engines.
import type { AppSchema } from '../../definition.ts'
import type { BackupConnection } from '../../backup/connection.ts'
import type { ColumnLimit, TableSpec } from '../../backup/schema.ts'
import type { LocalMigration, MigrationDriver } from '../migrations.ts'
import type { Service } from '../sniff.ts'
import type { ServerConnection } from '../url.ts'

export type ProbeCause =
  | 'dns' | 'refused' | 'unreachable' | 'timeout'
  | 'tlsRequired' | 'tlsUnsupported' | 'tlsInvalid' | 'caFile'
  | 'hostDenied' | 'authFailed' | 'databaseMissing' | 'databaseDenied' | 'privileges' | 'versionTooOld'
  | 'tableConflict' | 'otherPrismaApp' | 'newerApp' | 'unknown'
  | 'otherService' | 'caNotCertificate'

export interface ProbeFailure {
  ok: false
  cause: ProbeCause
  /** databaseMissing: whether this account may create it (the wizard then offers "Create it"). */
  canCreate?: boolean
  /** privileges: what the account could not do; `untested` when CREATE failed and nothing else could be tried. */
  missing?: string[]
  untested?: boolean
  /** versionTooOld */
  version?: string
  minimum?: string
  /** tableConflict / otherPrismaApp / newerApp: the tables or migrations concerned */
  names?: string[]
  /** The driver's message, for logs only: it may name the host or the user, never the password. */
  detail?: string
  /** otherService: the protocol that answered instead (see sniff.ts) */
  service?: Service
}

export interface ProbeSuccess {
  ok: true
  /** empty: nothing there; ours: this app, `applied` migrations done and `pending` to apply; otherTables: needs confirmation. */
  state: 'empty' | 'ours' | 'otherTables'
  /** the server product that answered, e.g. PostgreSQL, MySQL, MariaDB */
  server: string
  version: string
  applied: number
  pending: number
  /** otherTables: the first few table names */
  tables: string[]
}

export type ProbeResult = ProbeFailure | ProbeSuccess

/** What a probe needs of the app: its migrations (the tables it will create, the history it recognizes as its own). */
export interface ProbeOptions {
  schema: Pick<AppSchema, 'migrationsDir'>
  /** Connect timeout; the whole test is bounded by about twice this. */
  timeoutMs?: number
}

/** A database file's test (file engines): where it can live and what it already holds. */
export type FileProbeResult =
  | { ok: true, state: 'new' | 'empty' | 'ours', file: string, migrations?: number }
  | { ok: false, reason: 'notAbsolute' | 'isDirectory' | 'notRegularFile' | 'dirNotWritable' | 'notSqlite' | 'foreignTables' | 'unreadable', file: string, detail?: string }

export interface MigrationEngine {
  /** `_prisma_migrations` as Prisma's schema engine creates it on this engine. */
  readonly tableDdl: string
  /** Opens the runner's one connection (server/db/migrate.ts drives it). */
  open(url: string, lockTimeoutMs: number): Promise<MigrationDriver>
  /** False when opening would create the database (a status must not create a SQLite file). */
  exists(url: string): boolean
}

export interface BackupEngine {
  /** One connection per backup or restore: a read snapshot, bulk writes (server/backup/create.ts, restore.ts). */
  open(url: string): Promise<BackupConnection>
  /** Rows per batch a restore writes. */
  readonly batchSize: number
  /**
   * What this engine accepts in each `Table.column` beyond its Prisma type, from its own migrations up to `upTo`
   * (declared lengths) and its fixed rules: what the verification checks before a restore writes anything.
   */
  limits(tables: TableSpec[], migrations?: readonly LocalMigration[], upTo?: string): Map<string, ColumnLimit>
}

interface EngineBase<Id extends string> {
  readonly id: Id
  /** i18n key of the engine's name, e.g. `setup.database.providers.sqlite` */
  readonly labelKey: string
  /** Loads the app's generated client and the driver adapter without connecting (the wizard warms it up). */
  preload(schema: Pick<AppSchema, 'client'>): Promise<void>
  /** The app's Prisma client (`schema.client(id)`) over this engine's driver adapter. */
  createClient(schema: Pick<AppSchema, 'client'>, url: string): Promise<unknown>
  /** The cause of a driver error, in the probe's words (refused, authFailed, dns…). */
  classifyError(error: unknown): ProbeCause
  readonly migration: MigrationEngine
  readonly backup: BackupEngine
}

/** An engine whose database is a file on this server. */
export interface FileEngine<Id extends string = string> extends EngineBase<Id> {
  readonly kind: 'file'
  /** The database URL for an absolute file path, and back. */
  fileUrl(file: string): string
  filePath(url: string): string
  probeFile(file: string, options: Pick<ProbeOptions, 'schema'>): Promise<FileProbeResult>
  /** The engine library's version; throws when the driver cannot load (the prerequisites check). */
  driverVersion(): Promise<string>
}

/** An engine reached over the network. */
export interface ServerEngine<Id extends string = string> extends EngineBase<Id> {
  readonly kind: 'server'
  readonly defaultPort: number
  /** URL schemes it reads, e.g. `postgresql:`; the first is the one it writes. */
  readonly protocols: readonly string[]
  /** The oldest server versions accepted, per server product. */
  readonly minimumVersions: Readonly<Record<string, readonly number[]>>
  /** Settings from a parsed URL (url.ts has read the parts every engine shares into `base`). */
  parseUrl(url: URL, base: Omit<ServerConnection, 'provider'>): ServerConnection
  /** The URL's query string for these settings (TLS, schema). */
  urlParams(c: ServerConnection): URLSearchParams
  /** The server product and version from its version string. */
  parseVersion(text: string): { server: string, version: string, parts: number[] }
  /** Connects, checks version, contents and privileges; never throws. url.ts's CA file and sniff checks ran first. */
  probe(c: ServerConnection, options: ProbeOptions & { timeoutMs: number }): Promise<ProbeResult>
  /** Creates the database (UTF-8); a failure or null. */
  createDatabase(c: ServerConnection, timeoutMs: number): Promise<ProbeFailure | null>
}

export type Engine = FileEngine | ServerEngine
