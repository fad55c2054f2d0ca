// The public entry without the wizard's steps (`import { start, hashPassword } from 'amorce/core'`): the plugin,
// createServer and start, the types, and the helpers a normal mode uses. An installed app whose files import
// only this never loads the steps' code (server/index.ts adds defaultSteps and defineStep, which load them all).
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
// The step contract's types cost nothing at run time; the steps themselves are server/index.ts's.
export type { Step, StepContext, StageContext, Stage, FieldSpec, FieldError, Input, ActionOutcome, SummaryLine, ReplayContext } from './setup/step.ts'
