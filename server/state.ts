// The one mutable fact of a running Amorce: which mode it serves. Setup routes and app routes
// both read it on every request, so finishing the wizard switches the app without a restart.
import type { Writable } from 'node:stream'
import type { SessionStore } from '@fastify/session'
import type { AppConfig } from './config/config.ts'
import type { Cache } from './cache/index.ts'
import type { MigrationStatus } from './db/migrate.ts'
import type { AppDefinition } from './definition.ts'
import type { I18n } from './i18n.ts'
import type { HostDb, Runtime } from './runtime.ts'
import type { WizardState } from './setup/state.ts'

export type Mode = 'setup' | 'normal' | 'unavailable'

export interface SetupState {
  token: string
  /** null when DATA_DIR cannot be written: the token is then only printed */
  tokenFile: string | null
  /** epoch ms after which the token is refused; a restart then makes a new one */
  tokenExpiresAt: number
  /** Generated at setup start, used for the wizard's cookies and written to .env at finalize. */
  sessionSecret: string
}

export interface AppState {
  mode: Mode
  config: AppConfig
  /** the app being installed and served: its schema, admin store, steps (server/definition.ts) */
  definition: AppDefinition
  /** setup mode's registry, install job and token counters, made on first use (server/setup/state.ts) */
  wizard?: WizardState
  /** normal mode */
  runtime?: Runtime
  /** unavailable mode: why normal mode could not start (shown as 503, never the wizard) */
  unavailable?: { part: string, since: Date, lastTry: Date, /** part db: the connection cause (refused, authFailed…) */ cause?: string }
  setup?: SetupState
  /** the store @fastify/session uses now */
  sessionStore: SessionStore
  /** how the install reloads the configuration and opens normal mode (set by the plugin) */
  lifecycle?: { reloadConfig: () => Promise<AppConfig>, switchToNormal: () => Promise<void>, env: NodeJS.ProcessEnv }
  /** its texts and languages (the host's locales first) */
  i18n: I18n
  /** normal mode: the host's Prisma client (throws before install: the host's routes are not served then) */
  readonly db: HostDb
  /** normal mode: the cache sessions and rate limits share (memory, a directory or Redis) */
  readonly cache: Cache
  /** normal mode: streams a backup of the app's tables (the format `amorce restore` and the wizard read) */
  backup(out: Writable): Promise<{ tables: number, rows: number }>
  /** normal mode: the app's migrations, applied and pending, on its database */
  migrationStatus(): Promise<MigrationStatus>
}

declare module 'fastify' {
  interface FastifyInstance {
    amorce: AppState
  }
}
