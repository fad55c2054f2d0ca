// The package's public entry (`import amorce, { createServer, start } from 'amorce'`): the Fastify plugin, the
// server factory and start, the types a host writes its definition with, and the few helpers a host's normal
// mode needs (passwords). Everything else under dist/ is internal and may change in any release.
// Re-exported bindings, not values read here: the reference app (server/app/) imports this entry while
// server/app.ts, which builds it, may still be loading.
export { amorce as default, amorce, createServer, serverOptions, REDACT, type PluginOptions, type ServerOptions } from './app.ts'
export { start, EXIT_CONFIG, type StartOptions } from './start.ts'
export type {
  AmorceOptions, AppDefinition, AppSchema, SchemaOptions, AmorceDb, AdminStore, AdminRecord, Brand, HostPlugin, PrismaClientClass
} from './definition.ts'
export type { AppState, Mode } from './state.ts'
// (reply.page and reply.renderPage come with it: the type's module declares them on FastifyReply)
export type { PageModel } from './plugins/render.ts'
export type { Cache } from './cache/index.ts'
export type { HostDb } from './runtime.ts'
export type { MigrationStatus } from './db/migrate.ts'
export { ConfigError, loadConfig, type AppConfig, type CacheBackend, type ConfigValues, type DatabaseProvider } from './config/config.ts'
export { hashPassword, verifyPassword, checkPasswordStrength } from './auth/password.ts'
export { formInput } from './form.ts'
// The wizard's steps: Amorce's own, in order, and the contract a host's step is written to.
export { defaultSteps, defineStep } from './setup/registry.ts'
export type { Step, StepContext, StageContext, Stage, FieldSpec, FieldError, Input, ActionOutcome, SummaryLine, ReplayContext } from './setup/registry.ts'

/**
 * Types a host names for its own app, by declaration merging:
 * `declare module 'amorce' { interface AmorceTypes { db: PrismaClient } }` makes `fastify.amorce.db` its client.
 */
export interface AmorceTypes {}
