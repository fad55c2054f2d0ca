// Database server connection settings ⇄ the DATABASE_URL the wizard writes, and the driver settings
// (pg, mariadb) derived from it. One place decides what TLS modes mean, for the probe, the runner and the app.
import { readFileSync } from 'node:fs'
import type { ClientConfig } from 'pg'
import type { ConnectionConfig } from 'mariadb'

export type ServerProvider = 'postgresql' | 'mysql'
export const SERVER_PROVIDERS: readonly ServerProvider[] = ['postgresql', 'mysql']
export const DEFAULT_PORTS: Readonly<Record<ServerProvider, number>> = { postgresql: 5432, mysql: 3306 }

/** off: plain TCP; required: encrypted, certificate not checked; verify: encrypted, certificate and host name checked. */
export type TlsMode = 'off' | 'required' | 'verify'
export const TLS_MODES: readonly TlsMode[] = ['off', 'required', 'verify']

export interface ServerConnection {
  provider: ServerProvider
  host: string
  port: number
  user: string
  password: string
  database: string
  tls: TlsMode
  /** With tls `verify`: a PEM file of the certificate authority; empty means the system's trusted authorities. */
  caFile: string
  /** PostgreSQL only: the schema (Prisma's `?schema=`), `public` when empty. */
  schema?: string
}

export type UrlErrorCode = 'urlInvalid' | 'urlProtocol' | 'urlHost' | 'urlDatabase' | 'urlPort' | 'urlTls'

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError'
  constructor (readonly code: UrlErrorCode, message: string) { super(message) }
}

const PROTOCOLS: Record<string, ServerProvider> = { 'postgresql:': 'postgresql', 'postgres:': 'postgresql', 'mysql:': 'mysql', 'mariadb:': 'mysql' }

/** The TLS mode a pasted URL asks for: libpq's `sslmode`, MySQL's `ssl-mode`, or Prisma's `sslaccept`. */
function tlsFromParams (params: URLSearchParams): TlsMode {
  const mode = (params.get('sslmode') ?? params.get('ssl-mode') ?? params.get('ssl_mode') ?? '').toLowerCase().replace('-', '_')
  if (['disable', 'disabled', 'allow', 'prefer', 'preferred'].includes(mode)) return 'off'
  if (['require', 'required'].includes(mode)) return params.get('sslaccept') === 'strict' ? 'verify' : 'required'
  if (['verify_ca', 'verify_full', 'verify_identity'].includes(mode)) return 'verify'
  if (mode !== '') throw new DatabaseUrlError('urlTls', `Unknown TLS mode in the URL: ${mode}`)
  const accept = params.get('sslaccept')
  if (accept === 'strict') return 'verify'
  if (accept === 'accept_invalid_certs') return 'required'
  const ssl = params.get('ssl')
  if (ssl === 'true' || ssl === '1') return 'required'
  return 'off'
}

/**
 * encodeURIComponent, plus the sub-delimiters it leaves (`!'()*`): every reserved character of a credential is
 * percent-encoded, so the URL holds nothing a `.env` reader or a shell treats specially (server/config/envfile.ts).
 */
export function encodeUrlPart (text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, ch => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** Parses `postgresql://`, `postgres://`, `mysql://` or `mariadb://` URLs; user and password are percent-decoded. */
export function parseDatabaseUrl (text: string): ServerConnection {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    throw new DatabaseUrlError('urlInvalid', 'Not a URL')
  }
  const provider = PROTOCOLS[url.protocol]
  if (!provider) throw new DatabaseUrlError('urlProtocol', `Unsupported URL scheme ${url.protocol}`)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw new DatabaseUrlError('urlHost', 'The URL names no host')
  const port = url.port === '' ? DEFAULT_PORTS[provider] : Number(url.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DatabaseUrlError('urlPort', 'The URL has an invalid port')
  let database: string
  let user: string
  let password: string
  try {
    database = decodeURIComponent(url.pathname.replace(/^\//, ''))
    user = decodeURIComponent(url.username)
    password = decodeURIComponent(url.password)
  } catch {
    throw new DatabaseUrlError('urlInvalid', 'The URL has an invalid percent-encoding')
  }
  if (database === '' || database.includes('/')) throw new DatabaseUrlError('urlDatabase', 'The URL names no database')
  const params = url.searchParams
  const connection: ServerConnection = {
    provider,
    host,
    port,
    user,
    password,
    database,
    tls: tlsFromParams(params),
    caFile: params.get('sslrootcert') ?? params.get('sslcert') ?? params.get('ssl-ca') ?? ''
  }
  const schema = params.get('schema')
  if (provider === 'postgresql' && schema && schema !== 'public') connection.schema = schema
  return connection
}

/**
 * The DATABASE_URL for these settings. Everything is percent-encoded (a password may hold `@:/?#%`).
 * PostgreSQL: libpq's `sslmode` (disable | require | verify-full) and `sslrootcert`, which Prisma reads too;
 * MySQL: Prisma's `sslaccept` (accept_invalid_certs | strict) and `sslcert` (the CA), no parameter when off.
 */
export function buildDatabaseUrl (c: ServerConnection): string {
  const auth = c.user === '' ? '' : `${encodeUrlPart(c.user)}${c.password === '' ? '' : `:${encodeUrlPart(c.password)}`}@`
  const host = c.host.includes(':') ? `[${c.host}]` : c.host
  const params = new URLSearchParams()
  if (c.provider === 'postgresql') {
    if (c.schema && c.schema !== 'public') params.set('schema', c.schema)
    params.set('sslmode', { off: 'disable', required: 'require', verify: 'verify-full' }[c.tls])
    if (c.tls === 'verify' && c.caFile !== '') params.set('sslrootcert', c.caFile)
  } else {
    if (c.tls !== 'off') params.set('sslaccept', c.tls === 'verify' ? 'strict' : 'accept_invalid_certs')
    if (c.tls === 'verify' && c.caFile !== '') params.set('sslcert', c.caFile)
  }
  const query = params.toString()
  return `${c.provider}://${auth}${host}:${c.port}/${encodeUrlPart(c.database)}${query ? `?${query}` : ''}`
}

/** The URL with its password replaced, for logs and pages. */
export function redactUrl (text: string): string {
  try {
    const url = new URL(text)
    if (url.password !== '') url.password = '***'
    return url.toString()
  } catch {
    return '[invalid URL]'
  }
}

/** How long connecting may take before the test reports a timeout. */
export const CONNECT_TIMEOUT_MS = 5000

/** Node's TLS options for a mode; reads the CA file (its errors propagate: the probe names them). */
function tlsOptions (c: ServerConnection): false | { rejectUnauthorized: boolean, ca?: string, servername?: string } {
  if (c.tls === 'off') return false
  if (c.tls === 'required') return { rejectUnauthorized: false }
  return { rejectUnauthorized: true, ...(c.caFile === '' ? {} : { ca: readFileSync(c.caFile, 'utf8') }) }
}

export function pgConfig (c: ServerConnection, options: { database?: string, connectTimeoutMs?: number } = {}): ClientConfig {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: options.database ?? c.database,
    ssl: tlsOptions(c),
    connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    application_name: 'amorce'
  }
}

export function mariadbConfig (c: ServerConnection, options: { database?: string | null, connectTimeoutMs?: number } = {}): ConnectionConfig {
  const ssl = tlsOptions(c)
  const database = options.database === null ? undefined : options.database ?? c.database
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    ...(database === undefined ? {} : { database }),
    ...(ssl === false ? {} : { ssl }),
    connectTimeout: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    // MySQL 8's default caching_sha2_password over plain TCP needs the server's RSA key.
    allowPublicKeyRetrieval: true,
    charset: 'utf8mb4'
  }
}
