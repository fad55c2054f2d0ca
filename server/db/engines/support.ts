// What the server engines' probes share: reading a driver error, the network and TLS causes every driver meets,
// a bounded wait, the throwaway-table privilege checks, and what a database's contents say (empty, this app at
// some level, another Prisma app, other tables). Engine-neutral; the app's migrations come in as input.
import { randomBytes } from 'node:crypto'
import { createdTables, listLocalMigrations, MIGRATIONS_TABLE } from '../migrations.ts'
import type { ProbeCause, ProbeFailure, ProbeOptions, ProbeSuccess } from './engine.ts'

const TLS_CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE', 'CERT_REJECTED', 'INVALID_CA', 'HOSTNAME_MISMATCH'
])

export function errorFields (error: unknown): { code: string, errno?: number, message: string } {
  const e = (error ?? {}) as { code?: unknown, errno?: unknown, message?: unknown, cause?: unknown }
  const cause = (e.cause ?? {}) as { code?: unknown }
  const code = typeof e.code === 'string' ? e.code : typeof cause.code === 'string' ? cause.code : ''
  return { code, errno: typeof e.errno === 'number' ? e.errno : undefined, message: typeof e.message === 'string' ? e.message : String(error) }
}

/** Network and TLS causes, the same whichever driver met them. */
export function networkCause (code: string, message: string): ProbeCause | undefined {
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || /getaddrinfo/.test(message)) return 'dns'
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return 'unreachable'
  if (code === 'ETIMEDOUT' || code === 'ER_CONNECTION_TIMEOUT' || code === 'ER_SOCKET_TIMEOUT' || /timeout|timed out/i.test(message)) return 'timeout'
  if (TLS_CERT_CODES.has(code) || /certificate|self[- ]signed/i.test(message)) return 'tlsInvalid'
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return 'caFile'
  return undefined
}

export function failure (cause: ProbeCause, error?: unknown, extra: Partial<ProbeFailure> = {}): ProbeFailure {
  return { ok: false, cause, ...(error === undefined ? {} : { detail: errorFields(error).message }), ...extra }
}

/** Rejects after `ms`, running `onTimeout` (which closes the connection), so nothing outlives the test. */
export async function bounded<T> (ms: number, work: Promise<T>, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { onTimeout(); reject(Object.assign(new Error('the test took too long'), { code: 'ETIMEDOUT' })) }, ms)
  })
  try {
    return await Promise.race([work, limit])
  } finally {
    clearTimeout(timer)
  }
}

/** `major.minor[.patch]` from a server's version string. */
export function versionParts (text: string): { version: string, parts: number[] } {
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text)
  return { version: match ? match[0] : text, parts: match ? match.slice(1).filter(Boolean).map(Number) : [] }
}

/** The minimum as text when `parts` is older than it, else undefined. */
export function olderThan (minimum: readonly number[], parts: number[]): string | undefined {
  for (let i = 0; i < minimum.length; i++) {
    const have = parts[i] ?? 0
    if (have > minimum[i]) return undefined
    if (have < minimum[i]) return minimum.join('.')
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// What the database holds

export const PROBE_PREFIX = '_amorce_probe_'

/**
 * Empty, this app (its migrations, some applied), another Prisma app, a newer version of this app, or other
 * tables (refused when one has the name of a table this app's migrations create).
 */
export async function classifyContents (provider: string, options: ProbeOptions, tables: string[], migrationNames: () => Promise<string[]>): Promise<ProbeFailure | Pick<ProbeSuccess, 'state' | 'applied' | 'pending' | 'tables'>> {
  const visible = tables.filter(name => !name.startsWith(PROBE_PREFIX))
  const local = await listLocalMigrations(provider, { migrationsDir: options.schema.migrationsDir(provider as never) })
  if (visible.includes(MIGRATIONS_TABLE)) {
    const names = local.map(m => m.name)
    const recorded = await migrationNames()
    const ours = recorded.filter(name => names.includes(name))
    if (recorded.length > 0 && ours.length === 0) return failure('otherPrismaApp', undefined, { names: recorded.slice(0, 5) })
    const newer = recorded.filter(name => !names.includes(name))
    if (newer.length > 0) return failure('newerApp', undefined, { names: newer.slice(0, 5) })
    return { state: 'ours', applied: ours.length, pending: names.length - ours.length, tables: [] }
  }
  if (visible.length === 0) return { state: 'empty', applied: 0, pending: 0, tables: [] }
  const lower = new Set(visible.map(name => name.toLowerCase()))
  const conflicts = createdTables(local).filter(name => lower.has(name.toLowerCase()))
  if (conflicts.length > 0) return failure('tableConflict', undefined, { names: conflicts })
  return { state: 'otherTables', applied: 0, pending: 0, tables: visible.slice(0, 5) }
}

// ---------------------------------------------------------------------------------------------
// Privileges: really create, alter, index, reference, write and drop throwaway tables

export interface Check { privilege: string, run: () => Promise<unknown> }

export async function runChecks (checks: Check[], onFirstFailure: 'stop' | 'continue' = 'continue'): Promise<{ missing: string[], untested: boolean }> {
  const missing: string[] = []
  for (const [index, check] of checks.entries()) {
    try {
      await check.run()
    } catch {
      missing.push(check.privilege)
      if (index === 0 && onFirstFailure === 'stop') return { missing, untested: checks.length > 1 }
    }
  }
  return { missing, untested: false }
}

export function privilegeChecks (q: (sql: string) => Promise<unknown>, quote: (name: string) => string): Check[] {
  const suffix = randomBytes(4).toString('hex')
  const parent = quote(`${PROBE_PREFIX}${suffix}`)
  const child = quote(`${PROBE_PREFIX}${suffix}_ref`)
  const index = quote(`${PROBE_PREFIX}${suffix}_idx`)
  const check = (privilege: string, sql: string): Check => ({ privilege, run: () => q(sql) })
  return [
    check('CREATE', `CREATE TABLE ${parent} (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)`),
    check('ALTER', `ALTER TABLE ${parent} ADD COLUMN note VARCHAR(20) NULL`),
    check('INDEX', `CREATE INDEX ${index} ON ${parent} (name)`),
    check('REFERENCES', `CREATE TABLE ${child} (id INTEGER NOT NULL PRIMARY KEY, parent_id INTEGER NULL, FOREIGN KEY (parent_id) REFERENCES ${parent} (id))`),
    check('INSERT', `INSERT INTO ${parent} (id, name) VALUES (1, 'probe')`),
    check('SELECT', `SELECT id, name FROM ${parent}`),
    check('UPDATE', `UPDATE ${parent} SET name = 'probed' WHERE id = 1`),
    check('DELETE', `DELETE FROM ${parent} WHERE id = 1`),
    check('DROP', `DROP TABLE IF EXISTS ${child}, ${parent}`)
  ]
}
