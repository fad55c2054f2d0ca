// The reference app's Prisma side: one generated client per provider (prisma/<provider>/schema.prisma, generated
// into server/db/generated/) and its migrations in prisma/<provider>/migrations (the default place).
import type { SchemaOptions } from '../index.ts'
import type { PrismaClient } from '../db/generated/sqlite/client.ts'

/** The three generated clients share one model source, so the SQLite client's type stands for all of them. */
export type ReferenceDb = PrismaClient

declare module '../index.ts' {
  interface AmorceTypes { db: ReferenceDb }
}

export const referenceSchema: SchemaOptions = {
  async client (provider) {
    switch (provider) {
      case 'sqlite': return (await import('../db/generated/sqlite/client.ts')).PrismaClient as never
      case 'postgresql': return (await import('../db/generated/postgresql/client.ts')).PrismaClient as never
      case 'mysql': return (await import('../db/generated/mysql/client.ts')).PrismaClient as never
      default: throw new Error(`database provider not supported by this version: ${String(provider)}`)
    }
  },
  valueFormats: { 'AdminUser.passwordHash': 'argon2id' }
}
