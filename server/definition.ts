// What Amorce knows about the app it installs: the host's own definition (its name, its Prisma schema and
// clients, its steps, where its administrators live, its normal mode), resolved once with defaults.
// Every service takes this object (or the parts it needs) as input, never a module-level global, so two
// apps in one process stay independent. The reference app (server/app/) is one such definition.
//
// THE SEAM OF THE PLUGIN REDESIGN (issue 14). Types first; each part is filled by the module that owns it:
//   steps      → server/setup/registry.ts   (step contract, StepId, answers schema derived from it)
//   schema     → server/db/engines/*, server/backup/* (migrations, clients, data model of the host's tables)
//   admin      → the host's hook; the reference app's is server/app/admin-store.ts
//   app        → the host's normal-mode plugin; the reference app's is server/app/index.ts
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import type { DatabaseProvider } from './config/config.ts'
import { packageDir } from './paths.ts'
import type { Step } from './setup/registry.ts'

/** The subset of a generated Prisma client Amorce itself uses (its own tables and raw SQL). */
export interface AmorceDb {
  setting: {
    findUnique(args: { where: { key: string } }): Promise<{ key: string, value: string } | null>
    upsert(args: { where: { key: string }, create: { key: string, value: string }, update: { value: string } }): Promise<unknown>
    deleteMany(args?: { where?: { key?: string | { in: string[] } } }): Promise<unknown>
  }
  auditLog: { create(args: { data: { event: string, detail?: string | null } }): Promise<unknown> }
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): Promise<T>
  $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number>
  $transaction<T>(fn: (tx: never) => Promise<T>): Promise<T>
  $disconnect(): Promise<void>
}

/**
 * A generated Prisma client's constructor (`new PrismaClient({ adapter })`). Its options are typed loosely: each
 * generated client names its own adapter type, which no single parameter type accepts.
 */
export type PrismaClientClass = new (options: { adapter: any }) => unknown

/** The host's Prisma side: one generated client and one migrations folder per provider. */
export interface AppSchema {
  /** Loads the generated client for a provider (a dynamic import, so unused engines cost nothing). */
  client(provider: DatabaseProvider): Promise<PrismaClientClass>
  /** `<root>/prisma/<provider>/migrations` unless the host says otherwise. */
  migrationsDir(provider: DatabaseProvider): string
  /** Column value formats the backup verification enforces, e.g. `{ 'User.passwordHash': 'argon2id' }`. */
  valueFormats?: Readonly<Record<string, 'argon2id'>>
  /**
   * The providers whose generated client is absent (e.g. `npm ci --ignore-scripts` skipped the build), for the
   * prerequisites step; a cheap file check where the host knows where its clients are. Without it, each client is loaded.
   */
  missingClients?(providers: readonly DatabaseProvider[]): DatabaseProvider[]
}

/** An administrator as Amorce handles it; `id` is whatever the host's table uses. */
export interface AdminRecord { id: string | number, username: string, email: string, passwordHash: string }

/** Where the host keeps its administrators (its own users table). Amorce never touches that table directly. */
export interface AdminStore<Db = unknown> {
  /** The wizard's admin step, at install (inside the install; the host may set a role, a locale…). */
  create(db: Db, admin: { username: string, email: string, passwordHash: string, locale: string }): Promise<AdminRecord>
  /** By username or email (sign-in checks, `amorce admin reset-password`). */
  find(db: Db, login: string): Promise<AdminRecord | null>
  /** `amorce admin reset-password`. */
  setPassword(db: Db, id: AdminRecord['id'], passwordHash: string): Promise<void>
  /** The administrators a restored backup brought (the admin step offers to keep them). */
  list(db: Db): Promise<Array<Pick<AdminRecord, 'username' | 'email'>>>
  /** The table that holds them, for backups (the restore step names the accounts it will bring). */
  table?: { name: string, username: string, email: string }
}

/** Branding of the wizard and the error pages. */
export interface Brand {
  /** shown in titles and headings; defaults to the app's name */
  name?: string
  /** URL of a logo image (served by the host, or under `<basePath>/public/`) */
  logo?: string
  /** URL of a stylesheet loaded after Amorce's own */
  stylesheet?: string
}

/**
 * A host's definition resolved with defaults: what the app state (`definition`) holds. Filled by createServer / the
 * plugin (server/app.ts) from the host's options; the reference app's is built the same way (server/app/).
 */
export interface AppDefinition {
  /** the app's name, e.g. 'Notes' (titles, backup manifests) */
  name: string
  /** the host package's root directory (absolute) */
  root: string
  /** the host's version (its package.json), written into backups */
  version: string
  schema: AppSchema
  admin: AdminStore<any>
  /**
   * the host's steps in order (server/setup/registry.ts builds the registry from them); undefined: Amorce's
   * defaultSteps, which the registry then loads itself, so that an installed app never loads the wizard's code
   */
  steps?: readonly Step[]
  /** languages offered, the first one the default */
  languages: readonly string[]
  brand: Brand
  /** view directories searched in order: the host's first, then Amorce's */
  views: readonly string[]
  /** locale directories searched in order: the host's first, then Amorce's */
  locales: readonly string[]
}

/** The host's Prisma side as it gives it: `migrationsDir` defaults to `<root>/prisma/<provider>/migrations`. */
export type SchemaOptions = Omit<AppSchema, 'migrationsDir'> & Partial<Pick<AppSchema, 'migrationsDir'>>

/** A host's normal mode: an async Fastify plugin (or one wrapped by fastify-plugin), registered at build, served once installed. */
export type HostPlugin = FastifyPluginAsync

/**
 * What a host gives `createServer`, `start` or `fastify.register(amorce, …)`, and what the module named by
 * `amorce --app` (or package.json `"amorce": { "app": … }`) exports by default.
 */
export interface AmorceOptions {
  /** the app's name, e.g. 'Notes' (titles, backups) */
  name: string
  /** the host package's directory: `prisma/<provider>/migrations`, `views/`, `locales/`, `package.json` */
  root: string
  /** written into backups; default: `version` of `<root>/package.json` */
  version?: string
  /** the host's generated Prisma clients and migrations */
  schema: SchemaOptions
  /** the wizard's steps in order; default: `defaultSteps` */
  steps?: readonly Step[]
  /** where the administrators live (the host's users table) */
  admin: AdminStore<any>
  /** normal mode; given `fastify.amorce.db`, `.cache`, `.config` and `fastify.log` */
  app?: HostPlugin
  /** the languages offered, the first the default (one: no switcher; any other than en/fr: the host translates) */
  languages?: readonly string[]
  brand?: Brand
  /** the environment the configuration is read from (default `process.env`) */
  env?: NodeJS.ProcessEnv
  /** where `.env` and `data/` are looked for (default `process.cwd()`) */
  cwd?: string
}

/** Amorce's own views and locales, searched after the host's. */
export const AMORCE_VIEWS = packageDir('views')
export const AMORCE_LOCALES = packageDir('locales')

/** The definition with defaults: the host's views and locales first, its package.json's version. */
export function resolveDefinition (options: AmorceOptions): AppDefinition {
  if (!options || typeof options.name !== 'string' || options.name === '') throw new TypeError('amorce: options.name is required (the app\'s name)')
  if (typeof options.root !== 'string' || !path.isAbsolute(options.root)) throw new TypeError('amorce: options.root must be an absolute path (the host package\'s directory, e.g. import.meta.dirname)')
  if (!options.schema || typeof options.schema.client !== 'function') throw new TypeError('amorce: options.schema.client(provider) is required (it loads the generated Prisma client)')
  if (!options.admin) throw new TypeError('amorce: options.admin is required (an AdminStore: create, find, setPassword, list)')
  const root = path.resolve(options.root)
  const languages = options.languages ?? ['en', 'fr']
  if (languages.length === 0 || new Set(languages).size !== languages.length) throw new TypeError('amorce: options.languages must list one language or more, each once')
  for (const lang of languages) if (!/^[a-z]{2,3}(-[a-zA-Z0-9]{2,8})*$/.test(lang)) throw new TypeError(`amorce: "${lang}" is not a language tag (en, fr, de, pt-BR…)`)
  const dirs = (name: string, own: string) => {
    const host = path.join(root, name) + path.sep
    return host === own ? [own] : [host, own]
  }
  const { migrationsDir, ...schema } = options.schema
  return {
    name: options.name,
    root,
    version: options.version ?? packageVersion(root),
    schema: { ...schema, migrationsDir: migrationsDir ?? (provider => path.join(root, 'prisma', provider, 'migrations')) },
    admin: options.admin,
    steps: options.steps,
    languages,
    brand: { ...options.brand, name: options.brand?.name ?? options.name },
    views: dirs('views', AMORCE_VIEWS),
    locales: dirs('locales', AMORCE_LOCALES)
  }
}

function packageVersion (root: string): string {
  try {
    return String(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version ?? '0.0.0')
  } catch {
    return '0.0.0'
  }
}
