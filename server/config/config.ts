// The app configuration: the real process environment first, then the `.env` file the wizard writes.
//
// Precedence, for every key except ENV_FILE: a non-empty process environment variable wins over the
// `.env` file, which wins over the default. ENV_FILE itself can only come from the environment (it
// says where the file is). An empty environment variable counts as unset, so `FOO=` left behind by a
// container template does not mask the value the wizard wrote. process.env is never modified.
import { resolve } from 'node:path'
import { CACHE_BACKENDS, type CacheBackend } from '../cache/backends.ts'
import { PROVIDERS, type DatabaseProvider } from '../db/engines/index.ts'
import { readEnvFile } from './envfile.ts'

// The engines and cache backends are listed once, in their registries.
export type { CacheBackend, DatabaseProvider }
/** Amorce's own languages; an app may offer others (its `languages` option), then read through loadConfig's. */
export type AppLocale = 'en' | 'fr' | (string & {})

export const APP_LOCALES: readonly AppLocale[] = ['en', 'fr']
export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export interface ConfigValues {
  databaseProvider?: DatabaseProvider
  databaseUrl?: string
  cacheBackend?: CacheBackend
  cacheDir?: string
  redisUrl?: string
  sessionSecret?: string
  appLocale?: AppLocale
  installedAt?: string
}

export interface AppConfig {
  /** Absolute; from ENV_FILE, default `<cwd>/.env`. */
  envFile: string
  /** Absolute; from DATA_DIR, default `<cwd>/data`. */
  dataDir: string
  /** 0..65535; 0 asks for any free port (tests). */
  port: number
  host: string
  /** '' or `/segment[/segment…]`, never with a trailing slash. */
  basePath: string
  /** How many reverse proxies in front are trusted for X-Forwarded-*: 0 none, TRUST_PROXY=true 1. */
  trustProxy: number
  logLevel: string
  setupTokenTtlHours: number
  /** APP_INSTALLED_AT is present: the install lock. */
  installed: boolean
  /** What the `.env` file (or the real environment) holds for the installed app. */
  values: ConfigValues
  /** Keys the real process environment set; they take precedence over the `.env` file. */
  fromEnvironment: string[]
}

/** Keys the wizard writes to the `.env` file, in the order it writes them; APP_INSTALLED_AT is last on purpose. */
export const ENV_KEYS = [
  'DATABASE_PROVIDER',
  'DATABASE_URL',
  'CACHE_BACKEND',
  'CACHE_DIR',
  'REDIS_URL',
  'SESSION_SECRET',
  'APP_LOCALE',
  'APP_INSTALLED_AT',
] as const
export type EnvKey = typeof ENV_KEYS[number]

/** Server settings; usually set in the environment, but the `.env` file may hold them too. */
export const SERVER_KEYS = [
  'DATA_DIR',
  'PORT',
  'HOST',
  'BASE_PATH',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'SETUP_TOKEN_TTL_HOURS',
] as const

export class ConfigError extends Error {
  readonly code: string
  readonly key?: string

  constructor (code: string, message: string, key?: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConfigError'
    this.code = code
    if (key !== undefined) this.key = key
  }
}

type Lookup = (key: string) => string | undefined

function present (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

async function readFileValues (envFile: string): Promise<Record<string, string>> {
  try {
    return (await readEnvFile(envFile)) ?? {}
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new ConfigError('envFileUnreadable', `cannot read ${envFile}: ${reason}`, 'ENV_FILE', { cause: err })
  }
}

function parsePort (raw: string | undefined): number {
  if (raw === undefined) return 3000
  const text = raw.trim()
  const port = Number(text)
  if (!/^\d{1,5}$/.test(text) || port > 65535) {
    throw new ConfigError('invalidPort', `PORT must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`, 'PORT')
  }
  return port
}

function parseBasePath (raw: string | undefined): string {
  const text = (raw ?? '').trim().replace(/\/+$/, '')
  if (text === '') return ''
  // Kept to plain path segments: it ends up in links, redirects and the cookie path.
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(text)) {
    throw new ConfigError('invalidBasePath', `BASE_PATH must look like /segment or /a/b, got ${JSON.stringify(raw)}`, 'BASE_PATH')
  }
  return text
}

function parseBoolean (key: string, raw: string | undefined): boolean {
  if (raw === undefined) return false
  const text = raw.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(text)) return true
  if (['false', '0', 'no', 'off'].includes(text)) return false
  throw new ConfigError('invalidBoolean', `${key} must be true/1/yes or false/0/no, got ${JSON.stringify(raw)}`, key)
}

/**
 * TRUST_PROXY: true trusts exactly the one reverse proxy in front (nginx, Render's, Passenger's):
 * the client is the address that proxy appended to X-Forwarded-For, so a client cannot choose its
 * own address by sending the header. A number trusts that many proxies in a chain.
 */
function parseTrustProxy (raw: string | undefined): number {
  if (raw !== undefined && /^\s*([2-9])\s*$/.test(raw)) return Number(raw.trim())
  return parseBoolean('TRUST_PROXY', raw) ? 1 : 0
}

function parseTtlHours (raw: string | undefined): number {
  if (raw === undefined) return 24
  const hours = Number(raw.trim())
  // Capped at a year so that a value meant in seconds or milliseconds is caught.
  if (raw.trim() === '' || !Number.isFinite(hours) || hours <= 0 || hours > 8760) {
    throw new ConfigError('invalidTokenTtl', `SETUP_TOKEN_TTL_HOURS must be a number of hours in (0, 8760], got ${JSON.stringify(raw)}`, 'SETUP_TOKEN_TTL_HOURS')
  }
  return hours
}

function parseChoice<T extends string> (key: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined
  const text = raw.trim()
  const found = allowed.find((choice) => choice === text)
  if (found === undefined) {
    throw new ConfigError('invalidChoice', `${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`, key)
  }
  return found
}

function readValues (get: Lookup, languages: readonly string[]): ConfigValues {
  const values: ConfigValues = {
    databaseProvider: parseChoice('DATABASE_PROVIDER', get('DATABASE_PROVIDER'), PROVIDERS),
    databaseUrl: get('DATABASE_URL'),
    cacheBackend: parseChoice('CACHE_BACKEND', get('CACHE_BACKEND'), CACHE_BACKENDS),
    cacheDir: get('CACHE_DIR'),
    redisUrl: get('REDIS_URL'),
    sessionSecret: get('SESSION_SECRET'),
    appLocale: parseChoice('APP_LOCALE', get('APP_LOCALE'), languages),
    installedAt: get('APP_INSTALLED_AT'),
  }
  // Absent keys are left out rather than present as undefined, so the object reads as what the file holds.
  for (const key of Object.keys(values) as (keyof ConfigValues)[]) {
    if (values[key] === undefined) delete values[key]
  }
  return values
}

/**
 * Reads the configuration; throws ConfigError on an invalid setting. Never mutates `env`. `languages`: those the
 * app offers (APP_LOCALE must be one; default Amorce's own).
 */
export async function loadConfig (env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd(), options: { languages?: readonly string[] } = {}): Promise<AppConfig> {
  const envFile = resolve(cwd, present(env.ENV_FILE) ?? '.env')
  const file = await readFileValues(envFile)
  const get: Lookup = (key) => present(env[key]) ?? present(file[key])

  const logLevel = parseChoice('LOG_LEVEL', get('LOG_LEVEL'), LOG_LEVELS) ?? 'info'
  const values = readValues(get, options.languages ?? APP_LOCALES)
  return {
    envFile,
    dataDir: resolve(cwd, get('DATA_DIR') ?? 'data'),
    port: parsePort(get('PORT')),
    host: get('HOST')?.trim() || '0.0.0.0',
    // Passenger (cPanel's "Setup Node.js App") passes the application URL's path and does not strip it.
    basePath: parseBasePath(get('BASE_PATH') ?? present(env.PASSENGER_BASE_URI)),
    trustProxy: parseTrustProxy(get('TRUST_PROXY')),
    logLevel,
    setupTokenTtlHours: parseTtlHours(get('SETUP_TOKEN_TTL_HOURS')),
    installed: values.installedAt !== undefined,
    values,
    fromEnvironment: [...SERVER_KEYS, ...ENV_KEYS].filter((key) => present(env[key]) !== undefined),
  }
}

const VALUE_KEYS: readonly [EnvKey, keyof ConfigValues][] = [
  ['DATABASE_PROVIDER', 'databaseProvider'],
  ['DATABASE_URL', 'databaseUrl'],
  ['CACHE_BACKEND', 'cacheBackend'],
  ['CACHE_DIR', 'cacheDir'],
  ['REDIS_URL', 'redisUrl'],
  ['SESSION_SECRET', 'sessionSecret'],
  ['APP_LOCALE', 'appLocale'],
  ['APP_INSTALLED_AT', 'installedAt'],
]

/**
 * The ordered entries the wizard writes. Keys of `preserve` (typically the current file) that the
 * wizard does not manage — PORT, HOST, anything the admin added — are kept first, in their order.
 */
export function envFileEntries (values: ConfigValues, preserve: Record<string, string> = {}): Record<string, string> {
  const managed = new Set<string>(ENV_KEYS)
  const entries: Record<string, string> = {}
  for (const [key, value] of Object.entries(preserve)) {
    if (!managed.has(key)) entries[key] = value
  }
  for (const [key, field] of VALUE_KEYS) {
    const value = values[field]
    if (value !== undefined && value !== '') entries[key] = value
  }
  return entries
}
