// The database engines, in the order the wizard offers them. Every list of providers, every default port and
// every URL scheme Amorce knows derives from this one list: adding an engine is its module and one line here
// (plus its label in locales/<lang>/setup/database.json).
import type { Engine, FileEngine, ServerEngine } from './engine.ts'
import { mysql } from './mysql.ts'
import { postgresql } from './postgresql.ts'
import { sqlite } from './sqlite.ts'
import { DatabaseUrlError, readServerUrl, serverUrl, type ServerConnection } from '../url.ts'

export const ENGINES = [sqlite, postgresql, mysql] as const

export type DatabaseProvider = typeof ENGINES[number]['id']
/** The engines reached over the network. */
export type ServerProvider = Extract<typeof ENGINES[number], { kind: 'server' }>['id']
export type FileProvider = Extract<typeof ENGINES[number], { kind: 'file' }>['id']

export const PROVIDERS: readonly DatabaseProvider[] = ENGINES.map(engine => engine.id)
export const SERVER_ENGINES = ENGINES.filter((engine): engine is Extract<typeof ENGINES[number], { kind: 'server' }> => engine.kind === 'server')
export const SERVER_PROVIDERS: readonly ServerProvider[] = SERVER_ENGINES.map(engine => engine.id)
export const DEFAULT_PORTS = Object.fromEntries(SERVER_ENGINES.map(engine => [engine.id, engine.defaultPort])) as Readonly<Record<ServerProvider, number>>

export function isProvider (value: unknown): value is DatabaseProvider {
  return (PROVIDERS as readonly unknown[]).includes(value)
}

export function isServerProvider (value: unknown): value is ServerProvider {
  return (SERVER_PROVIDERS as readonly unknown[]).includes(value)
}

/** The engine of a provider id; throws on an unknown one (a configuration names it, so it was validated before). */
export function engineOf (provider: ServerProvider): ServerEngine<ServerProvider>
export function engineOf (provider: FileProvider): FileEngine<FileProvider>
export function engineOf (provider: DatabaseProvider | string): Engine
export function engineOf (provider: string): Engine {
  const engine = ENGINES.find(e => e.id === provider)
  if (!engine) throw new Error(`database provider not supported by this version: ${String(provider)}`)
  return engine as Engine
}

/** Parses a server engine's URL (`postgresql://`, `postgres://`, `mysql://`, `mariadb://` …); user and password are percent-decoded. */
export function parseDatabaseUrl (text: string): ServerConnection {
  return readServerUrl(text, protocol => SERVER_ENGINES.find(engine => (engine.protocols as readonly string[]).includes(protocol)))
}

/** The DATABASE_URL for these settings, in the engine's own dialect (TLS and schema parameters). */
export function buildDatabaseUrl (c: ServerConnection): string {
  const engine = SERVER_ENGINES.find(e => e.id === c.provider)
  if (!engine) throw new DatabaseUrlError('urlProtocol', `Not a server engine: ${String(c.provider)}`)
  return serverUrl(c, engine.protocols[0], engine.urlParams(c))
}
