// `npm run db:migration -- <name>`: writes the next SQLite and PostgreSQL migrations with Prisma's own schema engine (wasm), laid out as `prisma migrate dev` would.
// Prisma's CDN (and so its native schema engine) is out of reach here, but @prisma/schema-engine-wasm holds the same
// engine for SQLite and PostgreSQL: its `diff` turns "what the migrations directory builds" into "what schema.prisma
// wants". The helpers are exported because the tests drive the same engine to prove the runner's compatibility.
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as wasmRuntime from '@prisma/schema-engine-wasm/schema_engine_bg'
import type { DiffTarget, MigrationDirectory, MigrationList, SchemaContainer, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm'
import { PrismaLibSql } from '@prisma/adapter-libsql'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import pg from 'pg'
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils'

/** scripts/db-schemas.mjs ships no type declarations: this states the part of it we rely on. */
interface DbSchemas {
  PROVIDERS: readonly string[]
  prismaDir: string
  composeSchema(provider: string): string
  schemaPath(provider: string): string
}
// A non-literal specifier keeps TypeScript from demanding declarations for the .mjs module.
const dbSchemasModule = './db-schemas.mjs'
export const { PROVIDERS, prismaDir, composeSchema, schemaPath } = await import(dbSchemasModule) as DbSchemas

export type EngineProvider = 'sqlite' | 'postgresql'
export const ENGINE_PROVIDERS: readonly EngineProvider[] = ['sqlite', 'postgresql']

/** The server the PostgreSQL engine connects to: it creates (and drops) its temporary shadow database there. */
export const DEFAULT_POSTGRES_DEV_URL = 'postgresql://postgres@127.0.0.1:5432/postgres'
export function postgresDevUrl (): string {
  return process.env.AMORCE_MIGRATION_PG_URL || DEFAULT_POSTGRES_DEV_URL
}

/** No table or enum is managed outside Prisma in this project. */
export const SCHEMA_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] }
const LOCKFILE = 'migration_lock.toml'
const MIGRATION_FILE = 'migration.sql'

export function migrationsDirOf (provider: string): string {
  return path.join(prismaDir, provider, 'migrations')
}

// ---------------------------------------------------------------------------------------------
// The wasm engine

let wasmReady = false

/**
 * The engine bounds waits (e.g. 10 s for PostgreSQL's advisory lock in applyMigrations) with JS timers it never
 * clears, which would keep the process alive 10 s after the work is done. The waits it bounds are I/O, which keeps
 * the process alive by itself, so the timers can be unref'd.
 */
function withUnrefTimers (imports: WebAssembly.ModuleImports): WebAssembly.ModuleImports {
  const patched: WebAssembly.ModuleImports = { ...imports }
  for (const [name, value] of Object.entries(imports)) {
    if (!name.startsWith('__wbg_setTimeout_') || typeof value !== 'function') continue
    patched[name] = (...args: unknown[]) => {
      const timer: unknown = value(...args)
      ;(timer as { unref?: () => void } | null)?.unref?.()
      return timer
    }
  }
  return patched
}

/**
 * Instantiates the wasm module once per process, as Prisma's CLI does (wasm-bindgen keeps one instance: a second
 * instantiation breaks it). The package's ESM entry imports the .wasm file as a module, which Node only allows
 * behind a flag, so we feed the bytes to the `_bg` glue ourselves.
 */
async function ensureWasm (): Promise<void> {
  if (wasmReady) return
  const require = createRequire(import.meta.url)
  const entry = require.resolve('@prisma/schema-engine-wasm')
  const bytes = await readFile(path.join(path.dirname(entry), 'schema_engine_bg.wasm'))
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    './schema_engine_bg.js': withUnrefTimers(wasmRuntime as unknown as WebAssembly.ModuleImports)
  })
  // The engine reports Rust panics through this global; without it a panic would surface as a TypeError.
  const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } }
  g.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (message: string) => { console.error(`schema engine panic: ${message}`) } }
  wasmRuntime.__wbg_set_wasm(instance.exports)
  ;(instance.exports.__wbindgen_start as () => void)()
  wasmReady = true
}

/** The adapter with some of its methods replaced. */
function overriding (adapter: SqlDriverAdapter, overrides: Partial<SqlDriverAdapter>): SqlDriverAdapter {
  return new Proxy(adapter, {
    get (target, prop) {
      const own = (overrides as Record<string | symbol, unknown>)[prop]
      if (own !== undefined) return own
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
}

/**
 * The wasm engine applies each migration to a SQLite shadow database with `executeRaw`, and libsql's `execute`
 * runs only the first statement of a script: the shadow would silently miss everything after the first
 * CREATE TABLE. Routing parameterless `executeRaw` calls to `executeScript` (libsql `executeMultiple`) makes the
 * shadow database see whole scripts, as the native engine's `execute_batch` does.
 */
function runWholeScripts (adapter: SqlDriverAdapter): SqlDriverAdapter {
  return overriding(adapter, {
    async executeRaw (query: SqlQuery) {
      if (query.args.length > 0) return adapter.executeRaw(query)
      await adapter.executeScript(query.sql)
      return 0
    }
  })
}

const PG_CHAR_OID = 18
const PG_TEXT_OID = 25

/**
 * The engine describes a PostgreSQL schema with catalog queries returning `"char"` columns (relkind, contype...),
 * a type @prisma/adapter-pg 7.10 refuses ("Column type 'char' could not be deserialized"). pg already hands those
 * values over as one-letter strings, so relabelling the column as text is all the adapter needs.
 */
class CharAsTextClient extends pg.Client {}
const clientQuery = pg.Client.prototype.query
function charAsText (res: pg.QueryResult | undefined): void {
  for (const field of res?.fields ?? []) if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID
}
CharAsTextClient.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  // pg-pool calls back (query(text, values, cb)); direct callers get a promise. Fix the fields on either path.
  const last = args.length - 1
  const callback = args[last]
  if (typeof callback === 'function') {
    args[last] = (err: Error | null, res: pg.QueryResult) => { if (!err) charAsText(res); callback(err, res) }
  }
  const result: unknown = Reflect.apply(clientQuery, this, args)
  return result instanceof Promise ? result.then((res: pg.QueryResult) => { charAsText(res); return res }) : result
} as typeof clientQuery

/** Discrete connection fields: with a `connectionString`, pg would ignore a `database` override. */
export function pgConfigFromUrl (url: string): pg.PoolConfig {
  const u = new URL(url)
  const sslmode = u.searchParams.get('sslmode')
  return {
    host: decodeURIComponent(u.hostname) || 'localhost',
    port: u.port === '' ? 5432 : Number(u.port),
    user: decodeURIComponent(u.username) || undefined,
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    ssl: sslmode === null || sslmode === 'disable' ? undefined : { rejectUnauthorized: sslmode === 'verify-full' }
  }
}

function connectPg (config: pg.PoolConfig): Promise<SqlDriverAdapter> {
  // allowExitOnIdle: after the engine's transactions (applyMigrations), pg-pool keeps a 10 s idle timer even once
  // the pool has ended, which would hold the process open that long.
  return new PrismaPg({ ...config, Client: CharAsTextClient, allowExitOnIdle: true }).connect()
}

/**
 * A throw-away database for the engine to replay migrations on. PrismaPg's own helper cannot serve: it builds the
 * shadow pool from a config whose `connectionString` overrides the shadow database name (so it would replay the
 * migrations on the main database), and it drops the shadow database while still connected to it.
 */
async function connectPgShadow (config: pg.PoolConfig): Promise<SqlDriverAdapter> {
  const name = `prisma_migrate_shadow_db_${randomUUID()}`
  const admin = new pg.Client(config)
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name}"`)
  } catch (error) {
    await admin.end()
    throw error
  }
  const shadow = await connectPg({ ...config, database: name })
  return overriding(shadow, {
    async dispose () {
      await shadow.dispose() // first: PostgreSQL refuses to drop a database with open connections
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}"`)
      } finally {
        await admin.end()
      }
    }
  })
}

interface TrackedFactory {
  factory: SqlMigrationAwareDriverAdapterFactory
  /** Main connections the engine opened: `SchemaEngine.free()` does not close them, we must. */
  opened: SqlDriverAdapter[]
}

function adapterFactory (provider: EngineProvider, url: string): TrackedFactory {
  const opened: SqlDriverAdapter[] = []
  const track = (adapter: SqlDriverAdapter): SqlDriverAdapter => { opened.push(adapter); return adapter }
  if (provider === 'sqlite') {
    const libsql = new PrismaLibSql({ url })
    return {
      opened,
      factory: {
        provider: libsql.provider,
        adapterName: libsql.adapterName,
        connect: async () => track(await libsql.connect()),
        connectToShadowDb: async () => runWholeScripts(await libsql.connectToShadowDb())
      }
    }
  }
  const config = pgConfigFromUrl(url)
  return {
    opened,
    factory: {
      provider: 'postgres',
      adapterName: '@prisma/adapter-pg',
      connect: async () => track(await connectPg(config)),
      connectToShadowDb: () => connectPgShadow(config)
    }
  }
}

export interface SchemaEngineSession {
  engine: SchemaEngine
  close(): Promise<void>
}

/**
 * Opens Prisma's schema engine on a database. For SQLite without a URL it works on an in-memory database (enough to
 * diff); PostgreSQL needs a server, where the engine creates its shadow databases.
 */
export async function openSchemaEngine (provider: EngineProvider, url?: string): Promise<SchemaEngineSession> {
  await ensureWasm()
  const connectionUrl = url ?? (provider === 'sqlite' ? ':memory:' : postgresDevUrl())
  const { factory, opened } = adapterFactory(provider, connectionUrl)
  const bound = bindMigrationAwareSqlAdapterFactory(factory)
  const engine = await wasmRuntime.SchemaEngine.new({ datamodels: undefined }, () => {}, bound)
  return {
    engine,
    async close () {
      engine.free()
      await Promise.all(opened.map(adapter => adapter.dispose()))
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs for the engine, built as Prisma's CLI builds them (packages/migrate/src/utils/listMigrations.ts)

/** Reads a migrations directory into the engine's MigrationList, sorted like Prisma's CLI sorts it. */
export async function readMigrationsList (dir: string): Promise<MigrationList> {
  const lockContent = await readFile(path.join(dir, LOCKFILE), 'utf8').catch(() => null)
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  const migrationDirectories: MigrationDirectory[] = []
  for (const entry of entries.filter(e => e.isDirectory())) {
    const content = await readFile(path.join(dir, entry.name, MIGRATION_FILE), 'utf8')
      .then(value => ({ tag: 'ok' as const, value }))
      .catch((error: Error) => ({ tag: 'error' as const, value: error.message }))
    migrationDirectories.push({ path: entry.name, migrationFile: { path: MIGRATION_FILE, content } })
  }
  migrationDirectories.sort((a, b) => a.path.localeCompare(b.path))
  return { baseDir: dir, lockfile: { path: LOCKFILE, content: lockContent }, shadowDbInitScript: '', migrationDirectories }
}

async function schemaFiles (provider: EngineProvider): Promise<SchemaContainer[]> {
  const file = schemaPath(provider)
  return [{ path: file, content: await readFile(file, 'utf8') }]
}

/** What prisma/<provider>/schema.prisma describes. */
export async function schemaTarget (provider: EngineProvider): Promise<DiffTarget> {
  return { tag: 'schemaDatamodel', files: await schemaFiles(provider) }
}

/** The database the engine is connected to (the wasm engine takes no URL: it describes its adapter's database). */
export async function databaseTarget (provider: EngineProvider): Promise<DiffTarget> {
  return { tag: 'schemaDatasource', files: await schemaFiles(provider), configDir: path.dirname(schemaPath(provider)) }
}

/** What the migrations directory builds, replayed by the engine on a shadow database. */
export function migrationsTarget (list: MigrationList, provider: EngineProvider): DiffTarget {
  // Even with no migration yet, replaying the (empty) history on a shadow database is what `migrate dev` diffs
  // from: an `empty` target would make PostgreSQL scripts start with CREATE SCHEMA "public". The engine learns the
  // connector from the lockfile, which does not exist before the first migration.
  const lockfile = { ...list.lockfile, content: list.lockfile.content ?? lockfileContent(provider) }
  return { tag: 'migrations', ...list, lockfile }
}

/** The SQL script that takes `from` to `to`; `empty` when the engine finds nothing to change. */
export async function diffScript (engine: SchemaEngine, from: DiffTarget, to: DiffTarget): Promise<{ empty: boolean; script: string }> {
  // exitCode: true makes the engine answer 2 for a non-empty diff, a sturdier signal than parsing the script.
  const result = await engine.diff({ from, to, script: true, exitCode: true, filters: SCHEMA_FILTER })
  return { empty: result.exitCode === 0, script: result.stdout ?? '' }
}

// ---------------------------------------------------------------------------------------------
// Writing a migration the way `prisma migrate dev` does (packages/migrate/src/utils/createMigration.ts)

/** Prisma slugifies the name (@sindresorhus/slugify, separator "_") and caps it at 200 characters. */
export function slugifyMigrationName (name: string): string {
  return name
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z\d]+)/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z\d]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 200)
}

/** `<YYYYMMDDHHMMSS>_<name>`, the timestamp in UTC as the schema engine formats it. */
export function migrationDirName (name: string, now: Date = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/\D/g, '')
  return `${stamp}_${slugifyMigrationName(name)}`
}

export function lockfileContent (provider: EngineProvider): string {
  return '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\n' +
    `provider = "${provider}"\n`
}

function lockedProvider (list: MigrationList): string | undefined {
  return list.lockfile.content?.match(/^\s*provider\s*=\s*"([^"]*)"/m)?.[1]
}

/** A migrations directory for a provider, as the engine reads it; refuses one locked to another provider. */
async function providerMigrations (provider: EngineProvider, dir: string): Promise<MigrationList> {
  const list = await readMigrationsList(dir)
  const locked = lockedProvider(list)
  if (locked !== undefined && locked !== provider) {
    throw new Error(`${path.join(dir, LOCKFILE)} is for provider "${locked}", not "${provider}"`)
  }
  return list
}

/** The SQL a new migration needs so that the migrations directory builds schema.prisma; `empty` if none. */
export async function nextMigrationScript (provider: EngineProvider, options: { migrationsDir?: string; url?: string } = {}): Promise<{ empty: boolean; script: string }> {
  const list = await providerMigrations(provider, options.migrationsDir ?? migrationsDirOf(provider))
  const session = await openSchemaEngine(provider, options.url)
  try {
    return await diffScript(session.engine, migrationsTarget(list, provider), await schemaTarget(provider))
  } finally {
    await session.close()
  }
}

/** Writes `<dir>/<dirName>/migration.sql` and the lockfile, byte for byte as `prisma migrate dev` writes them. */
export async function writeMigration (provider: EngineProvider, dirName: string, script: string, migrationsDir = migrationsDirOf(provider)): Promise<string> {
  const target = path.join(migrationsDir, dirName)
  if (existsSync(target)) throw new Error(`The migration directory already exists at ${target}`)
  await mkdir(target, { recursive: true })
  await writeFile(path.join(target, MIGRATION_FILE), script, 'utf8')
  await writeFile(path.join(migrationsDir, LOCKFILE), lockfileContent(provider), 'utf8')
  return path.join(target, MIGRATION_FILE)
}

// ---------------------------------------------------------------------------------------------
// CLI

function relative (file: string): string {
  return path.relative(process.cwd(), file) || file
}

async function main (argv: string[]): Promise<number> {
  const name = argv.filter(arg => !arg.startsWith('-')).join(' ')
  if (slugifyMigrationName(name) === '') {
    console.error('usage: npm run db:migration -- <name>   (e.g. add_user_timezone)')
    return 2
  }
  const stale = PROVIDERS.filter(provider => readFileSync(schemaPath(provider), 'utf8') !== composeSchema(provider))
  if (stale.length > 0) {
    console.error(`prisma/{${stale.join(',')}}/schema.prisma do not match prisma/models.prisma: run \`npm run db:schemas\` first.`)
    return 1
  }
  // One timestamp for every provider, so the same change has the same directory name everywhere.
  const dirName = migrationDirName(name)
  // Every diff first, then the writes: a failure (say, no PostgreSQL server) leaves no half-made change behind.
  const scripts = new Map<EngineProvider, string>()
  let failed = false
  for (const provider of ENGINE_PROVIDERS) {
    try {
      const next = await nextMigrationScript(provider)
      if (next.empty) console.log(`${provider}: the migrations already build prisma/${provider}/schema.prisma; nothing to write.`)
      else scripts.set(provider, next.script)
    } catch (error) {
      failed = true
      const hint = provider === 'postgresql' ? ` (the engine needs a PostgreSQL server for its shadow database: ${postgresDevUrl()}; set AMORCE_MIGRATION_PG_URL)` : ''
      console.error(`${provider}: failed${hint}:\n${(error as Error).message}`)
    }
  }
  if (failed) {
    console.error('Nothing written.')
    return 1
  }
  for (const [provider, script] of scripts) console.log(`${provider}: wrote ${relative(await writeMigration(provider, dirName, script))}`)
  for (const provider of PROVIDERS.filter(p => !(ENGINE_PROVIDERS as readonly string[]).includes(p))) {
    console.log(`${provider}: not generated, Prisma's wasm schema engine has no ${provider} connector.` +
      (scripts.size > 0 ? ` Write prisma/${provider}/migrations/${dirName}/migration.sql by hand (see docs/migrations.md).` : ''))
  }
  if (scripts.size > 0) console.log('Review the SQL, then commit it together with the models.')
  return 0
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
