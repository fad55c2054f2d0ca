// The reference app's Prisma side: one generated client per provider (prisma/<provider>/schema.prisma, generated
// into server/db/generated/), its migrations in prisma/<provider>/migrations, its value formats. The only module
// that knows where the reference app's Prisma side lives; Amorce's services take an AppSchema as input.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AppSchema, DatabaseProvider, PrismaClientClass } from '../index.ts'
import { root } from './root.ts'
import type { PrismaClient } from '../db/generated/sqlite/client.ts'

/** The three generated clients share one model source, so the SQLite client's type stands for all of them. */
export type ReferenceDb = PrismaClient

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
  migrationsDir: provider => path.join(root, 'prisma', provider, 'migrations'),
  valueFormats: { 'AdminUser.passwordHash': 'argon2id' },
  missingClients: providers => missingPrismaClients(providers)
}

/** Providers whose generated client is missing, e.g. after `npm ci --ignore-scripts` (no `prepare`, no build). */
export function missingPrismaClients (providers: readonly DatabaseProvider[], dir: string = generatedDir): DatabaseProvider[] {
  return providers.filter(p => !existsSync(path.join(dir, p, `client${moduleExt}`)))
}
