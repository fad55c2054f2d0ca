// What normal mode runs on: the database client and the cache, opened from the configuration, with
// pending migrations applied under the migration lock before the app serves (a newer release).
import type { FastifyBaseLogger } from 'fastify'
import type { AppConfig } from '../config/config.ts'
import { openCache, type Cache } from '../cache/index.ts'
import { createPrismaClient, type Db } from '../db/client.ts'
import { migrate } from '../db/migrate.ts'

export interface Runtime {
  db: Db
  cache: Cache
  provider: NonNullable<AppConfig['values']['databaseProvider']>
  close(): Promise<void>
}

export class RuntimeError extends Error {
  constructor (readonly part: 'config' | 'db' | 'migrations' | 'cache', message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

export async function openRuntime (config: AppConfig, log: FastifyBaseLogger): Promise<Runtime> {
  const { databaseProvider: provider, databaseUrl: url, cacheBackend } = config.values
  if (!provider || !url) throw new RuntimeError('config', 'DATABASE_PROVIDER and DATABASE_URL are required once installed')

  try {
    const { applied } = await migrate({
      provider,
      url,
      onProgress: p => log.info({ migration: p.name, index: p.index + 1, total: p.total }, p.status === 'applied' ? 'migration applied' : 'applying migration')
    })
    if (applied.length > 0) log.info({ count: applied.length }, 'pending migrations applied')
  } catch (err) {
    throw new RuntimeError('migrations', (err as Error).message, { cause: err })
  }

  const db = await createPrismaClient(provider, url)
  try {
    await db.$queryRawUnsafe('SELECT 1')
  } catch (err) {
    await db.$disconnect().catch(() => {})
    throw new RuntimeError('db', (err as Error).message, { cause: err })
  }

  let cache: Cache | undefined
  try {
    cache = await openCache({
      backend: cacheBackend ?? 'memory',
      dir: config.values.cacheDir,
      redisUrl: config.values.redisUrl,
      // Once per outage, not at every reconnection attempt; the client reconnects by itself.
      redis: { onStatus: (status, detail) => status === 'down' ? log.error({ detail }, 'redis connection lost: retrying') : log.info('redis connection back') }
    })
    await cache.ping()
  } catch (err) {
    // Closed too, or a Redis client would go on reconnecting behind the unavailable page.
    await Promise.allSettled([db.$disconnect(), cache?.close()])
    throw new RuntimeError('cache', (err as Error).message, { cause: err })
  }

  return {
    db,
    cache,
    provider,
    async close () {
      await Promise.allSettled([db.$disconnect(), cache.close()])
    }
  }
}
