// GET /backup: a fresh backup of the app's tables, streamed to a signed-in administrator (Amorce's format, the
// one the wizard's restore step and `amorce restore` read).
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'

export default async function backupRoutes (app: FastifyInstance): Promise<void> {
  const base = () => app.amorce.config.basePath

  app.get('/backup', async (req, reply) => {
    if (!req.session.userId) return reply.redirect(`${base()}/login`, 303)
    const { db } = app.amorce
    const user = await db.adminUser.findUnique({ where: { id: req.session.userId } })
    if (!user) return reply.redirect(`${base()}/login`, 303)
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    const body = new PassThrough()
    // The archive streams out as it is made; a failure midway ends the response early, and the client sees an
    // incomplete download (which a restore refuses as truncated) rather than a file that looks whole.
    app.amorce.backup(body)
      .then(async made => {
        req.log.info(made, 'backup downloaded')
        await db.auditLog.create({ data: { event: 'backup.downloaded', actorId: user.id } }).catch(() => {})
      })
      .catch((err: unknown) => {
        req.log.error({ err }, 'backup failed')
        body.destroy(err as Error)
      })
    return reply
      .type('application/gzip')
      .header('content-disposition', `attachment; filename="amorce-backup-${stamp}.tar.gz"`)
      .header('cache-control', 'no-store')
      .send(body)
  })
}
