// Prisma's own schema engine (wasm) on a host's migrations: what `amorce dev migration` and this repository's
// `npm run db:migration` use to write SQLite and PostgreSQL migrations laid out as `prisma migrate dev` would.
// Prisma's CDN (and so its native schema engine) is out of reach on many machines, but @prisma/schema-engine-wasm
// holds the same engine for SQLite and PostgreSQL: its `diff` turns "what the migrations directory builds" into
// "what schema.prisma wants". It is a dev-only package of the host, loaded from the host's node_modules.
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { DiffTarget, MigrationDirectory, MigrationList, SchemaContainer, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm'
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils'
import pg from 'pg'
import { DEV_PACKAGES, importDev, resolveDev } from './host.ts'

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

// ---------------------------------------------------------------------------------------------
// The wasm engine

type WasmRuntime = typeof import('@prisma/schema-engine-wasm/schema_engine_bg')
type AdapterUtils = typeof import('@prisma/driver-adapter-utils')

/**
 * The instantiated engine glue. wasm-bindgen keeps one instance per glue module (a second instantiation breaks
 * it), so this is per process by nature: the glue module itself is the state, this only remembers it is ready.
 */
let wasmRuntime: WasmRuntime | undefined

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
async function ensureWasm (root: string): Promise<WasmRuntime> {
  if (wasmRuntime !== undefined) return wasmRuntime
  const entry = resolveDev(root, DEV_PACKAGES.engine)
  const runtime = await importDev<WasmRuntime>(root, `${DEV_PACKAGES.engine}/schema_engine_bg`, DEV_PACKAGES.engine)
  const bytes = await readFile(path.join(path.dirname(entry), 'schema_engine_bg.wasm'))
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    './schema_engine_bg.js': withUnrefTimers(runtime as unknown as WebAssembly.ModuleImports)
  })
  // The engine reports Rust panics through this global; without it a panic would surface as a TypeError.
  const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } }
  g.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (message: string) => { console.error(`schema engine panic: ${message}`) } }
  runtime.__wbg_set_wasm(instance.exports)
  ;(instance.exports.__wbindgen_start as () => void)()
  wasmRuntime = runtime
  return runtime
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

async function connectPg (config: pg.PoolConfig): Promise<SqlDriverAdapter> {
  const { PrismaPg } = await import('@prisma/adapter-pg')
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

async function adapterFactory (provider: EngineProvider, url: string): Promise<TrackedFactory> {
  const opened: SqlDriverAdapter[] = []
  const track = (adapter: SqlDriverAdapter): SqlDriverAdapter => { opened.push(adapter); return adapter }
  if (provider === 'sqlite') {
    const { PrismaLibSql } = await import('@prisma/adapter-libsql')
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
export async function openSchemaEngine (provider: EngineProvider, url?: string, root: string = process.cwd()): Promise<SchemaEngineSession> {
  const runtime = await ensureWasm(root)
  const utils = await importDev<AdapterUtils & { default?: AdapterUtils }>(root, DEV_PACKAGES.adapterUtils)
  const bind = utils.bindMigrationAwareSqlAdapterFactory ?? utils.default?.bindMigrationAwareSqlAdapterFactory
  const connectionUrl = url ?? (provider === 'sqlite' ? ':memory:' : postgresDevUrl())
  const { factory, opened } = await adapterFactory(provider, connectionUrl)
  const bound = bind(factory)
  const engine = await runtime.SchemaEngine.new({ datamodels: undefined }, () => {}, bound)
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

async function schemaFiles (schemaFile: string): Promise<SchemaContainer[]> {
  return [{ path: schemaFile, content: await readFile(schemaFile, 'utf8') }]
}

/** What a schema.prisma describes. */
export async function schemaFileTarget (schemaFile: string): Promise<DiffTarget> {
  return { tag: 'schemaDatamodel', files: await schemaFiles(schemaFile) }
}

/** The database the engine is connected to (the wasm engine takes no URL: it describes its adapter's database). */
export async function databaseFileTarget (schemaFile: string): Promise<DiffTarget> {
  return { tag: 'schemaDatasource', files: await schemaFiles(schemaFile), configDir: path.dirname(schemaFile) }
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

export function lockfileContent (provider: string): string {
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

/** The SQL a new migration needs so that the migrations directory builds the schema file; `empty` if none. */
export async function nextMigrationScriptFor (provider: EngineProvider, options: { schemaFile: string, migrationsDir: string, url?: string, root?: string }): Promise<{ empty: boolean; script: string }> {
  const list = await providerMigrations(provider, options.migrationsDir)
  const session = await openSchemaEngine(provider, options.url, options.root)
  try {
    return await diffScript(session.engine, migrationsTarget(list, provider), await schemaFileTarget(options.schemaFile))
  } finally {
    await session.close()
  }
}

/** Writes `<dir>/<dirName>/migration.sql` and the lockfile, byte for byte as `prisma migrate dev` writes them. */
export async function writeMigration (provider: string, dirName: string, script: string, migrationsDir: string): Promise<string> {
  const target = path.join(migrationsDir, dirName)
  if (existsSync(target)) throw new Error(`The migration directory already exists at ${target}`)
  await mkdir(target, { recursive: true })
  await writeFile(path.join(target, MIGRATION_FILE), script, 'utf8')
  await writeFile(path.join(migrationsDir, LOCKFILE), lockfileContent(provider), 'utf8')
  return path.join(target, MIGRATION_FILE)
}
