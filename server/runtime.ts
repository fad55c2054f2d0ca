// What normal mode runs on: the host's database client and the cache, opened from the configuration, with
// the host's pending migrations applied under the migration lock before the app serves (a newer release).
import type { FastifyBaseLogger } from 'fastify'
import type { AppConfig, DatabaseProvider } from './config/config.ts'
import { openCache, type Cache } from './cache/index.ts'
import { migrate, MigrationError } from './db/migrate.ts'
import { createClient as engineClient } from './db/client.ts'
import { classifyError, type ProbeCause } from './db/probe.ts'
import type { AmorceDb, AppSchema } from './definition.ts'
import type { AmorceTypes } from './index.ts'

/** The host's Prisma client: the type it names (`interface AmorceTypes { db: PrismaClient }`), else Amorce's view of it. */
export type HostDb = AmorceTypes extends { db: infer D } ? D : AmorceDb & Record<string, any>

/** The host's generated client for a provider, through the engine's driver adapter (server/db/engines/*). */
export async function createClient (schema: Pick<AppSchema, 'client'>, provider: DatabaseProvider, url: string): Promise<HostDb> {
  return engineClient<HostDb>(schema, provider, url)
}

export interface Runtime {
  db: HostDb
  cache: Cache
  provider: NonNullable<AppConfig['values']['databaseProvider']>
  close(): Promise<void>
}

export class RuntimeError extends Error {
  constructor (readonly part: 'config' | 'db' | 'migrations' | 'cache', message: string, options?: { cause?: unknown, dbCause?: ProbeCause }) {
    super(message, options)
    this.dbCause = options?.dbCause
  }

  /** part `db`: why the connection failed (refused, authFailed, dns…), as the wizard's test names it */
  readonly dbCause?: ProbeCause
}

/** The connection cause of a driver error (server engines; SQLite has no connection to lose). */
export function connectionCause (provider: Runtime['provider'], err: unknown): ProbeCause {
  return classifyError(provider, err)
}

/**
 * Whether a request failed because the database is away: a bounded `SELECT 1`. Asked only after a
 * request failed (a 5xx), so a healthy app pays nothing for it.
 */
export async function databaseDown (runtime: Runtime, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      runtime.db.$queryRawUnsafe('SELECT 1'),
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), timeoutMs) })
    ])
    return false
  } catch {
    return true
  } finally {
    clearTimeout(timer)
  }
}

export async function openRuntime (config: AppConfig, log: FastifyBaseLogger, schema: AppSchema): Promise<Runtime> {
  const { databaseProvider: provider, databaseUrl: url, cacheBackend } = config.values
  if (!provider || !url) throw new RuntimeError('config', 'DATABASE_PROVIDER and DATABASE_URL are required once installed')

  try {
    const { applied } = await migrate({
      provider,
      url,
      migrationsDir: schema.migrationsDir(provider),
      onProgress: p => log.info({ migration: p.name, index: p.index + 1, total: p.total }, p.status === 'applied' ? 'migration applied' : 'applying migration')
    })
    if (applied.length > 0) log.info({ count: applied.length }, 'pending migrations applied')
  } catch (err) {
    // Not reaching the server is not a failed update: say which (refused, password, DNS…).
    if (err instanceof MigrationError && err.code === 'connectionFailed') {
      throw new RuntimeError('db', (err as Error).message, { cause: err, dbCause: connectionCause(provider, err.cause ?? err) })
    }
    throw new RuntimeError('migrations', (err as Error).message, { cause: err })
  }

  const db = await createClient(schema, provider, url)
  try {
    await db.$queryRawUnsafe('SELECT 1')
  } catch (err) {
    await db.$disconnect().catch(() => {})
    throw new RuntimeError('db', (err as Error).message, { cause: err, dbCause: connectionCause(provider, err) })
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
