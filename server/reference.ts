// Shortcuts to the reference app's database for Amorce's own tools and tests (`backup:verify`, the test suite):
// its schema (server/app/schema.ts) given to the engine-neutral services. Not part of the public entry.
import { createClient, preloadClient } from './db/client.ts'
import { PROVIDERS, type DatabaseProvider } from './db/engines/index.ts'
import { generatedDir, missingPrismaClients as missingIn, referenceSchema, type ReferenceDb } from './app/schema.ts'

export { generatedDir, referenceSchema, type ReferenceDb }
export type Db = ReferenceDb

/** The reference app's providers whose generated client is missing (in `dir`, default: beside the running code). */
export function missingPrismaClients (dir: string = generatedDir): DatabaseProvider[] {
  return missingIn(PROVIDERS, dir)
}

/** The reference app's client: createClient(referenceSchema, …). */
export function createPrismaClient (provider: DatabaseProvider, url: string): Promise<Db> {
  return createClient<Db>(referenceSchema, provider, url)
}

export function preloadPrismaClient (provider: DatabaseProvider): Promise<void> {
  return preloadClient(referenceSchema, provider)
}
