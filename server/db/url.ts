// What every server engine's DATABASE_URL shares (host, port, credentials, database, TLS mode) and what TLS modes
// mean for Node, for the probe, the runner and the app. Each engine adds its own scheme and query string
// (server/db/engines/<name>.ts); parseDatabaseUrl / buildDatabaseUrl (engines/index.ts) pick the engine.
import { readFileSync } from 'node:fs'
import type { ServerProvider } from './engines/index.ts'

export type { ServerProvider }

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

/** The TLS mode a pasted URL asks for: libpq's `sslmode`, MySQL's `ssl-mode`, or Prisma's `sslaccept`. */
export function tlsFromParams (params: URLSearchParams): TlsMode {
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

/** Reads what every server engine's URL shares; `engineFor` names the engine of a scheme (engines/index.ts). */
export function readServerUrl<C extends ServerConnection> (text: string, engineFor: (protocol: string) => { defaultPort: number, parseUrl(url: URL, base: Omit<ServerConnection, 'provider'>): C } | undefined): C {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    throw new DatabaseUrlError('urlInvalid', 'Not a URL')
  }
  const engine = engineFor(url.protocol)
  if (!engine) throw new DatabaseUrlError('urlProtocol', `Unsupported URL scheme ${url.protocol}`)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw new DatabaseUrlError('urlHost', 'The URL names no host')
  const port = url.port === '' ? engine.defaultPort : Number(url.port)
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
  return engine.parseUrl(url, {
    host,
    port,
    user,
    password,
    database,
    tls: tlsFromParams(params),
    caFile: params.get('sslrootcert') ?? params.get('sslcert') ?? params.get('ssl-ca') ?? ''
  })
}

/** The URL for these settings with the engine's query string. Everything is percent-encoded (a password may hold `@:/?#%`). */
export function serverUrl (c: ServerConnection, scheme: string, params: URLSearchParams): string {
  const auth = c.user === '' ? '' : `${encodeUrlPart(c.user)}${c.password === '' ? '' : `:${encodeUrlPart(c.password)}`}@`
  const host = c.host.includes(':') ? `[${c.host}]` : c.host
  const query = params.toString()
  return `${scheme}//${auth}${host}:${c.port}/${encodeUrlPart(c.database)}${query ? `?${query}` : ''}`
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
export function tlsOptions (c: ServerConnection): false | { rejectUnauthorized: boolean, ca?: string, servername?: string } {
  if (c.tls === 'off') return false
  if (c.tls === 'required') return { rejectUnauthorized: false }
  return { rejectUnauthorized: true, ...(c.caFile === '' ? {} : { ca: readFileSync(c.caFile, 'utf8') }) }
}
