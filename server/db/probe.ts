// The database server test behind the wizard's "Test connection": connects within a bounded time, names the
// cause of any failure (DNS, refused, timeout, TLS, auth, missing database, privileges, version), says what the
// database already holds, and creates a missing database when asked. Testable without HTTP. The engine-specific
// parts are each engine's (server/db/engines/*); this module checks what comes before any driver (the CA file,
// what answers at the address) and hands over to the engine.
import { X509Certificate } from 'node:crypto'
import { open } from 'node:fs/promises'
import { engineOf, SERVER_ENGINES, type DatabaseProvider, type ServerProvider } from './engines/index.ts'
import type { ProbeCause, ProbeFailure, ProbeOptions, ProbeResult } from './engines/engine.ts'
import { errorFields, failure, olderThan } from './engines/support.ts'
import { sniffService } from './sniff.ts'
import { CONNECT_TIMEOUT_MS, type ServerConnection } from './url.ts'

export type { ProbeCause, ProbeFailure, ProbeOptions, ProbeResult, ProbeSuccess } from './engines/engine.ts'

/**
 * The oldest server versions accepted (docs/databases.md), per server product, from the engines: the oldest
 * release lines still maintained upstream at the start of 2025, when this generation of Prisma (7) and of Amorce began.
 */
export const MINIMUM_VERSIONS: Readonly<Record<string, readonly number[]>> = Object.assign({}, ...SERVER_ENGINES.map(engine => engine.minimumVersions))

/** The cause of a driver error on this engine, in the probe's words (a file engine has no connection: `unknown`). */
export function classifyError (provider: DatabaseProvider, error: unknown): ProbeCause {
  return engineOf(provider).classifyError(error)
}

export function parseServerVersion (text: string, provider: ServerProvider): { server: string, version: string, parts: number[] } {
  return engineOf(provider).parseVersion(text)
}

/** The minimum version as text when `parts` is older than what Amorce accepts of `server`. */
export function versionTooOld (server: string, parts: number[]): string | undefined {
  const minimum = MINIMUM_VERSIONS[server]
  return minimum ? olderThan(minimum, parts) : undefined
}

// ---------------------------------------------------------------------------------------------
// Before the driver: the CA file, and what answers at the address

/** A PEM file this large is not a CA bundle (and /dev/zero must not be read to the end). */
const MAX_CA_FILE = 1024 * 1024

/** With tls `verify` and a CA file: it must hold at least one PEM certificate (Node would ignore anything else). */
export async function caFileFailure (c: ServerConnection): Promise<ProbeFailure | undefined> {
  if (c.tls !== 'verify' || c.caFile === '') return undefined
  let text: string
  try {
    const fh = await open(c.caFile, 'r')
    try {
      const st = await fh.stat()
      if (!st.isFile()) return failure('caNotCertificate', undefined, { detail: 'not a regular file' })
      if (st.size > MAX_CA_FILE) return failure('caNotCertificate', undefined, { detail: `${st.size} bytes` })
      text = await fh.readFile('utf8')
    } finally {
      await fh.close()
    }
  } catch (error) {
    return failure(errorFields(error).code === 'EISDIR' ? 'caNotCertificate' : 'caFile', error)
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) return failure('caNotCertificate', undefined, { detail: 'no PEM certificate' })
  try {
    for (const block of blocks) new X509Certificate(block) // eslint-disable-line no-new
  } catch (error) {
    return failure('caNotCertificate', error)
  }
  return undefined
}

/**
 * Whether another protocol than the engine's answers at the address: then no driver is pointed at it.
 * Returns the time left for the driver: a silent listener has used part of the test's bound already.
 */
async function otherServiceFailure (c: ServerConnection, timeoutMs: number): Promise<{ failure?: ProbeFailure, timeoutMs: number }> {
  const started = performance.now()
  const found = await sniffService(c.host, c.port, { connectTimeoutMs: timeoutMs, answerMs: Math.min(1500, timeoutMs / 2) })
  if (found === 'silent') return { timeoutMs: Math.max(500, Math.round(timeoutMs - (performance.now() - started))) }
  if (found === 'unreachable' || found === c.provider) return { timeoutMs }
  return { failure: failure('otherService', undefined, { service: found, detail: `${found} answered at ${c.host}:${c.port}` }), timeoutMs }
}

async function beforeDriver (c: ServerConnection, timeoutMs: number): Promise<{ failure?: ProbeFailure, timeoutMs: number }> {
  const ca = await caFileFailure(c)
  if (ca) return { failure: ca, timeoutMs }
  return otherServiceFailure(c, timeoutMs)
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Tests the connection and the database against the app's migrations. Never throws: every outcome is a result. */
export async function probeDatabase (c: ServerConnection, options: ProbeOptions): Promise<ProbeResult> {
  const bound = options.timeoutMs ?? CONNECT_TIMEOUT_MS
  const engine = engineOf(c.provider)
  try {
    const { failure: early, timeoutMs } = await beforeDriver(c, bound)
    if (early) return early
    return await engine.probe(c, { ...options, timeoutMs })
  } catch (error) {
    return failure(engine.classifyError(error), error)
  }
}

/** Database names the wizard accepts: letters, digits, `_`, `-`, `$`, at most 63 characters (PostgreSQL's limit). */
export function validDatabaseName (name: string): boolean {
  return /^[\p{L}\p{N}_$-]{1,63}$/u.test(name)
}

/** Creates the database (UTF-8; utf8mb4_unicode_ci on MySQL, as Prisma's migrations expect). Returns a failure or null. */
export async function createServerDatabase (c: ServerConnection, options: Omit<ProbeOptions, 'schema'> = {}): Promise<ProbeFailure | null> {
  const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS
  if (!validDatabaseName(c.database)) return failure('unknown', undefined, { detail: 'invalid database name' })
  const { failure: early } = await beforeDriver(c, timeoutMs)
  if (early) return early
  return engineOf(c.provider).createDatabase(c, timeoutMs)
}
