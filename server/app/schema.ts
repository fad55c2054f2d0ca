// The reference app's Prisma side: one generated client per provider (prisma/<provider>/schema.prisma, generated
// into server/db/generated/), its migrations in prisma/<provider>/migrations, its value formats. The only module
// that knows where the reference app's Prisma side lives; Amorce's services take an AppSchema as input.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AppSchema, PrismaClientClass } from '../definition.ts'
import { createClient, preloadClient } from '../db/client.ts'
import { PROVIDERS, type DatabaseProvider } from '../db/engines/index.ts'
import { packageDir } from '../paths.ts'
import type { PrismaClient } from '../db/generated/sqlite/client.ts'

/** The three generated clients share one model source, so the SQLite client's type stands for all of them. */
export type ReferenceDb = PrismaClient
export type Db = ReferenceDb

declare module '../index.ts' {
  interface AmorceTypes { db: ReferenceDb }
}

/** The Prisma clients beside the running code: server/db/generated (sources) or dist/server/db/generated (compiled). */
export const generatedDir = fileURLToPath(new URL('../db/generated/', import.meta.url))
const moduleExt = import.meta.url.endsWith('.ts') ? '.ts' : '.js'

export const referenceSchema: AppSchema = {
  async client (provider) {
    const module = await import(path.join(generatedDir, provider, `client${moduleExt}`)) as { PrismaClient: PrismaClientClass }
    return module.PrismaClient
  },
  migrationsDir: provider => packageDir('prisma', provider, 'migrations'),
  valueFormats: { 'AdminUser.passwordHash': 'argon2id' },
  missingClients: () => missingPrismaClients()
}

/** Providers whose generated client is missing, e.g. after `npm ci --ignore-scripts` (no `prepare`, no build). */
export function missingPrismaClients (dir: string = generatedDir): DatabaseProvider[] {
  return PROVIDERS.filter(p => !existsSync(path.join(dir, p, `client${moduleExt}`)))
}

/** The reference app's client: createClient(referenceSchema, …). */
export function createPrismaClient (provider: DatabaseProvider, url: string): Promise<Db> {
  return createClient<Db>(referenceSchema, provider, url)
}

export function preloadPrismaClient (provider: DatabaseProvider): Promise<void> {
  return preloadClient(referenceSchema, provider)
}
