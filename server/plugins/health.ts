// GET /health for platform checks, for every app Amorce serves: 200 {"status":"setup"} while the wizard
// runs (keeps the instance alive), 200 ok / 503 naming the failing part once installed.
import type { FastifyInstance } from 'fastify'

const TIMEOUT_MS = 2000

function withTimeout<T> (p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS).unref())])
}

export default async function healthRoutes (app: FastifyInstance): Promise<void> {
  app.get('/health', {
    schema: {
      response: {
        200: { type: 'object', properties: { status: { type: 'string' }, db: { type: 'string' }, cache: { type: 'string' } }, required: ['status'] },
        503: { type: 'object', properties: { status: { type: 'string' }, db: { type: 'string' }, cache: { type: 'string' } }, required: ['status'] }
      }
    }
  }, async (_req, reply) => {
    const { mode, runtime } = app.amorce
    reply.header('cache-control', 'no-store')
    if (mode === 'setup') return { status: 'setup' }
    if (mode === 'unavailable' || !runtime) {
      const part = app.amorce.unavailable?.part
      return reply.code(503).send({ status: 'error', db: part === 'cache' ? 'ok' : 'down', cache: part === 'cache' ? 'down' : 'unknown' })
    }
    const [db, cache] = await Promise.allSettled([
      withTimeout(runtime.db.$queryRawUnsafe('SELECT 1')),
      withTimeout(runtime.cache.ping())
    ])
    const body = { status: 'ok', db: db.status === 'fulfilled' ? 'ok' : 'down', cache: cache.status === 'fulfilled' ? 'ok' : 'down' }
    if (body.db !== 'ok' || body.cache !== 'ok') return reply.code(503).send({ ...body, status: 'error' })
    return body
  })
}
