// An app's Prisma client for the configured provider, through the engine's driver adapter: the app's schema
// (AppSchema, server/definition.ts) says where its generated clients are; the engine (server/db/engines/*)
// brings the adapter. No app's models are known here.
import type { AppSchema } from '../definition.ts'
import { engineOf, type DatabaseProvider } from './engines/index.ts'

/**
 * Loads the provider's generated client and driver adapter (seconds of module loading on a slow host)
 * without connecting: the wizard calls it once the engine is chosen, so the install does not wait for it.
 */
export async function preloadClient (schema: Pick<AppSchema, 'client'>, provider: DatabaseProvider): Promise<void> {
  await engineOf(provider).preload(schema)
}

/** The app's client over `url`; `T` is the client type the caller knows (the app's own, or AmorceDb). */
export async function createClient<T = unknown> (schema: Pick<AppSchema, 'client'>, provider: DatabaseProvider, url: string): Promise<T> {
  return await engineOf(provider).createClient(schema, url) as T
}
