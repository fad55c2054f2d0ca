// The wizard's backup upload (setup mode only, loaded with it): POST /setup/restore/upload streams an uploaded
// backup to DATA_DIR (raw body, size-capped while it arrives), verifies it, and offers it to the wizard's
// "Backup restore" step.
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { backupLimits } from '../backup/format.ts'
import { newUploadPath, removeUpload, sweepUploads } from '../backup/uploads.ts'
import { readJournal } from '../setup/finalize.ts'
import { verifyForWizard } from '../setup/steps/restore.ts'

/** As the session cookie (app.ts): an upload untouched for longer belongs to no live session. */
const SESSION_MAX_AGE_MS = 12 * 3600_000

export interface RestoreUploadOptions {
  /** the environment the app was built from (BACKUP_MAX_BYTES) */
  env?: NodeJS.ProcessEnv
}

/**
 * Streams the body to `file`, with backpressure. Past `max` bytes it stops writing at once and reports
 * 'tooLarge'; the rest of the body is read and dropped (not written) so the 413 answer reaches the client,
 * and the answer closes the connection.
 */
function receive (body: Readable, file: string, max: number): Promise<'ok' | 'tooLarge'> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(file, { mode: 0o600 })
    let received = 0
    let over = false
    out.on('error', reject)
    body.on('error', reject)
    body.on('data', (chunk: Buffer) => {
      if (over) return
      received += chunk.length
      if (received > max) {
        over = true
        out.destroy()
        out.once('close', () => resolve('tooLarge'))
        return
      }
      if (!out.write(chunk)) {
        body.pause()
        out.once('drain', () => body.resume())
      }
    })
    body.on('end', () => { if (!over) out.end(() => resolve('ok')) })
  })
}

export default async function restoreUpload (app: FastifyInstance, opts: RestoreUploadOptions): Promise<void> {
  const env = opts.env ?? process.env
  const base = () => app.amorce.config.basePath

  // Wizard sessions live in memory: at start-up no session holds an upload, only an install journal can (its
  // install resumes with that file). Everything else in DATA_DIR is what an expired or lost session left.
  const journaledUpload = async (dataDir: string) => {
    const restore = (await readJournal(dataDir))?.answers.answers.restore
    return restore && restore.mode !== 'fresh' ? restore.file : undefined
  }
  if (app.amorce.mode === 'setup') {
    const dataDir = app.amorce.config.dataDir
    const removed = await sweepUploads(dataDir, [await journaledUpload(dataDir)])
    if (removed.length > 0) app.log.info({ removed: removed.length }, 'stale backup uploads removed')
  }

  // The upload is the raw body: handed over unread, streamed to disk by the handler.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))

  // The install lock first (like every /setup route): once installed this address is a 404, before CSRF checks.
  const setupOnly = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    if (app.amorce.mode !== 'setup') return reply.callNotFound()
  }
  app.post('/setup/restore/upload', { onRequest: setupOnly }, async (req, reply) => {
    if (app.amorce.mode !== 'setup') return reply.callNotFound()
    if (!req.session.setupAuthorized) return reply.code(403).send({ ok: false, message: req.t('setup.token.errors.required') })
    const data = req.session.wizard
    if (!data) return reply.code(409).send({ ok: false, message: req.t('setup.restore.errors.uploadFailed') })
    const limits = backupLimits(env)
    const tooLarge = () => reply.code(413).send({ ok: false, message: req.t('setup.restore.errors.tooLarge', { limit: limits.maxArchiveBytes }) })
    if (Number(req.headers['content-length'] ?? 0) > limits.maxArchiveBytes) {
      req.raw.resume()
      return tooLarge()
    }
    const body = req.body as Readable | undefined
    if (!body || typeof (body as Readable).pipe !== 'function') {
      return reply.code(415).send({ ok: false, message: req.t('setup.restore.errors.notGzip') })
    }
    const dir = app.amorce.config.dataDir
    await mkdir(dir, { recursive: true })
    // One upload per session, under a random name: another session's upload can never replace it.
    const file = newUploadPath(dir)
    const partial = `${file}.partial`
    let outcome: 'ok' | 'tooLarge' | 'failed'
    try {
      outcome = await receive(body, partial, limits.maxArchiveBytes)
    } catch (err) {
      req.log.info({ err: { message: (err as Error).message } }, 'backup upload interrupted')
      outcome = 'failed'
    }
    if (outcome !== 'ok') {
      await rm(partial, { force: true })
      if (outcome === 'tooLarge') {
        reply.header('connection', 'close')
        return tooLarge()
      }
      return reply.code(400).send({ ok: false, message: req.t('setup.restore.errors.uploadFailed') })
    }
    const { summary, error } = await verifyForWizard(partial, data, app.amorce.definition, env)
    if (error) {
      await rm(partial, { force: true })
      return reply.code(422).send({ ok: false, message: req.t(error.key, error.params ?? {}) })
    }
    await rename(partial, file)
    // The session's earlier upload (and uploads left by sessions that expired over 12 hours ago) go.
    const previous = data.answers.restore?.mode === 'upload' ? data.answers.restore.file : undefined
    await removeUpload(dir, previous)
    await sweepUploads(dir, [file, await journaledUpload(dir)], SESSION_MAX_AGE_MS).catch(() => [])
    data.answers.restore = { mode: 'upload', file, summary: summary!, confirmed: false }
    data.done = data.done.filter(id => id !== 'restore')
    req.session.wizard = data
    return reply.send({ ok: true, location: `${base()}/setup/restore` })
  })
}
