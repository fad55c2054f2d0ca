// Prisma Client for the configured provider, through its driver adapter. The three generated
// clients share one model source, so the SQLite client's type stands for all of them.
import type { PrismaClient } from './generated/sqlite/client.ts'
import type { DatabaseProvider } from '../config/config.ts'

export type Db = PrismaClient

export async function createPrismaClient (provider: DatabaseProvider, url: string): Promise<Db> {
  switch (provider) {
    case 'sqlite': {
      const [{ PrismaClient }, { PrismaLibSql }] = await Promise.all([
        import('./generated/sqlite/client.ts'),
        import('@prisma/adapter-libsql')
      ])
      return new PrismaClient({ adapter: new PrismaLibSql({ url }) })
    }
    default:
      throw new Error(`database provider not supported by this version: ${provider}`)
  }
}

/** Resolves `file:relative/path` against cwd, giving the absolute path of a SQLite URL. */
export function sqliteFileFromUrl (url: string, cwd = process.cwd()): string {
  const raw = url.replace(/^file:(\/\/)?/, '')
  return raw.startsWith('/') ? raw : `${cwd}/${raw}`
}
