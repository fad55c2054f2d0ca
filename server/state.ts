// The one mutable fact of a running Amorce: which mode it serves. Setup routes and app routes
// both read it on every request, so finishing the wizard switches the app without a restart.
import type { SessionStore } from '@fastify/session'
import type { AppConfig } from './config/config.ts'
import type { Runtime } from './app/runtime.ts'
import type { AppDefinition } from './definition.ts'
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
  /** how the install reloads the configuration and opens normal mode (set by buildApp) */
  lifecycle?: { reloadConfig: () => Promise<AppConfig>, switchToNormal: () => Promise<void>, env: NodeJS.ProcessEnv }
}

declare module 'fastify' {
  interface FastifyInstance {
    amorce: AppState
  }
}
