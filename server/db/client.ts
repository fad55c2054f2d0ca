// Prisma Client for the configured provider, through its driver adapter. The three generated
// clients share one model source, so the SQLite client's type stands for all of them.
import type { PrismaClient } from './generated/sqlite/client.ts'
import type { DatabaseProvider } from '../config/config.ts'
import { mariadbConfig, parseDatabaseUrl, pgConfig } from './url.ts'

export type Db = PrismaClient

/**
 * Loads the provider's generated client and driver adapter (seconds of module loading on a slow host)
 * without connecting: the wizard calls it once the engine is chosen, so the install does not wait for it.
 */
export async function preloadPrismaClient (provider: DatabaseProvider): Promise<void> {
  if (provider === 'sqlite') await Promise.all([import('./generated/sqlite/client.ts'), import('@prisma/adapter-libsql')])
  if (provider === 'postgresql') await Promise.all([import('./generated/postgresql/client.ts'), import('@prisma/adapter-pg')])
  if (provider === 'mysql') await Promise.all([import('./generated/mysql/client.ts'), import('@prisma/adapter-mariadb')])
}

export async function createPrismaClient (provider: DatabaseProvider, url: string): Promise<Db> {
  switch (provider) {
    case 'sqlite': {
      const [{ PrismaClient }, { PrismaLibSql }] = await Promise.all([
        import('./generated/sqlite/client.ts'),
        import('@prisma/adapter-libsql')
      ])
      return new PrismaClient({ adapter: new PrismaLibSql({ url }) })
    }
    case 'postgresql': {
      const [{ PrismaClient }, { PrismaPg }] = await Promise.all([
        import('./generated/postgresql/client.ts'),
        import('@prisma/adapter-pg')
      ])
      // The URL is translated by url.ts, not handed to pg: pg reads `sslmode=require` as verify-full.
      const connection = parseDatabaseUrl(url)
      const adapter = new PrismaPg(pgConfig(connection), connection.schema ? { schema: connection.schema } : undefined)
      return new PrismaClient({ adapter }) as unknown as Db
    }
    case 'mysql': {
      const [{ PrismaClient }, { PrismaMariaDb }] = await Promise.all([
        import('./generated/mysql/client.ts'),
        import('@prisma/adapter-mariadb')
      ])
      const connection = parseDatabaseUrl(url)
      const adapter = new PrismaMariaDb({ ...mariadbConfig(connection), connectionLimit: 10 }, { database: connection.database })
      return new PrismaClient({ adapter }) as unknown as Db
    }
    default:
      throw new Error(`database provider not supported by this version: ${String(provider)}`)
  }
}

