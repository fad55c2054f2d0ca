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
import type { DatabaseProvider } from './config/config.ts'

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

/** A generated Prisma client's constructor (`new PrismaClient({ adapter })`). */
export type PrismaClientClass = new (options: { adapter: unknown }) => unknown

/** The host's Prisma side: one generated client and one migrations folder per provider. */
export interface AppSchema {
  /** Loads the generated client for a provider (a dynamic import, so unused engines cost nothing). */
  client(provider: DatabaseProvider): Promise<PrismaClientClass>
  /** `<root>/prisma/<provider>/migrations` unless the host says otherwise. */
  migrationsDir(provider: DatabaseProvider): string
  /** Column value formats the backup verification enforces, e.g. `{ 'User.passwordHash': 'argon2id' }`. */
  valueFormats?: Readonly<Record<string, 'argon2id'>>
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
  /** the ordered step registry (server/setup/registry.ts) */
  steps: readonly import('./setup/wizard.ts').Step[]
  /** languages offered, the first one the default */
  languages: readonly string[]
  brand: Brand
  /** view directories searched in order: the host's first, then Amorce's */
  views: readonly string[]
  /** locale directories searched in order: the host's first, then Amorce's */
  locales: readonly string[]
}
