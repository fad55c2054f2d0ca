// What the platform's environment already answers (after Nextcloud's autoconfig): DATABASE_*,
// CACHE_*, APP_LOCALE and ADMIN_* set in the real environment fill the matching steps. The wizard
// shows those steps as "set by the environment" (read-only) and never writes their keys to .env.
import type { AppConfig } from '../config/config.ts'
import { sqliteFilePath } from '../db/migrate.ts'
import type { Input, StepId } from './wizard.ts'

export type Presets = Partial<Record<StepId, Input>>

/** The form input each step would receive, built from the real environment only (never .env). */
export function presetInputs (config: AppConfig, env: NodeJS.ProcessEnv): Presets {
  const from = new Set(config.fromEnvironment)
  const v = config.values
  const presets: Presets = {}
  if (from.has('APP_LOCALE') && v.appLocale) presets.language = { language: v.appLocale }
  if (from.has('DATABASE_PROVIDER') && from.has('DATABASE_URL') && v.databaseProvider && v.databaseUrl) {
    presets.database = v.databaseProvider === 'sqlite'
      ? { provider: 'sqlite', file: sqliteFile(v.databaseUrl), instances: 'single' }
      : { provider: v.databaseProvider, url: v.databaseUrl, instances: env.APP_INSTANCES === 'multiple' ? 'multiple' : 'single' }
  }
  if (from.has('CACHE_BACKEND') && v.cacheBackend) {
    if (v.cacheBackend === 'memory') presets.cache = { backend: 'memory' }
    if (v.cacheBackend === 'filesystem' && v.cacheDir) presets.cache = { backend: 'filesystem', dir: v.cacheDir }
    // A Redis database that already holds keys is refused unless CACHE_REDIS_ALLOW_NONEMPTY=true says it may be used.
    if (v.cacheBackend === 'redis' && v.redisUrl) {
      presets.cache = { backend: 'redis', redisInput: 'url', redisUrl: v.redisUrl, confirmNonEmpty: env.CACHE_REDIS_ALLOW_NONEMPTY === 'true' ? 'yes' : '' }
    }
  }
  const admin = { username: env.ADMIN_USERNAME?.trim(), email: env.ADMIN_EMAIL?.trim(), password: env.ADMIN_PASSWORD }
  if (admin.username && admin.email && admin.password) {
    presets.admin = { username: admin.username, email: admin.email, password: admin.password, confirm: admin.password }
  }
  return presets
}

/** The file of a SQLite URL; an unusable URL is passed on as is, for the database step to refuse with its reason. */
function sqliteFile (url: string): string {
  try {
    return sqliteFilePath(url)
  } catch {
    return url.replace(/^file:/, '')
  }
}

/** Everything a first start needs is given: install without the browser. */
export function isUnattended (presets: Presets): boolean {
  return Boolean(presets.database && presets.cache && presets.admin)
}

/** The .env entries the wizard may write: keys the real environment sets stay out of the file. */
export function withoutEnvironmentKeys (entries: Record<string, string>, config: AppConfig): Record<string, string> {
  const from = new Set(config.fromEnvironment)
  return Object.fromEntries(Object.entries(entries).filter(([key]) => !from.has(key)))
}
