// Pages: Eta templates under views/, rendered with what every page needs (t, lang, base path).
import { existsSync } from 'node:fs'
import path from 'node:path'
import fp from 'fastify-plugin'
import view from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyReply } from 'fastify'
import { packageDir } from '../paths.ts'

export const viewsDir = packageDir('views')

declare module 'fastify' {
  interface FastifyReply {
    /** Renders views/<template>.eta with the common page context. */
    page(template: string, model?: Record<string, unknown>, status?: number): Promise<FastifyReply>
    /** Renders to a string (for streamed pages). */
    renderPage(template: string, model?: Record<string, unknown>): Promise<string>
  }
}

export default fp(async function render (app, opts: { production: boolean }) {
  const eta = new Eta({ views: viewsDir, cache: opts.production, autoEscape: true, autoTrim: false })
  // Templates and includes are searched in the app's view directories in order (a host's first, then
  // Amorce's): a host step's page lives in the host's views, and a host may override one of Amorce's.
  const dirs = app.amorce.definition?.views ?? [viewsDir]
  const ownResolve = eta.resolvePath!.bind(eta)
  eta.resolvePath = (template, options) => {
    if (!template.startsWith('.')) {
      const name = (path.extname(template) ? template : `${template}.eta`).replace(/^[/\\]+/, '')
      for (const dir of dirs) {
        const file = path.join(dir, name)
        if (path.relative(dir, file).startsWith('..')) break
        if (existsSync(file)) return file
      }
    }
    return ownResolve(template, options)
  }
  await app.register(view, { engine: { eta }, root: viewsDir, production: opts.production, defaultContext: {} })

  function context (reply: FastifyReply, model: Record<string, unknown>): Record<string, unknown> {
    const req = reply.request
    return {
      t: req.t,
      lang: req.lang,
      base: app.amorce.config.basePath,
      mode: app.amorce.mode,
      path: req.url.split('?')[0],
      /** the CSRF token for this page's forms; a function, so pages without a form start no session */
      csrf: () => reply.generateCsrf(),
      /** a date as the reader's language writes it */
      /** a number as the reader's language writes it (12 345 in French) */
      number: (value: number, options?: Intl.NumberFormatOptions) => new Intl.NumberFormat(req.lang, options).format(value),
      date: (value: string | Date) => value ? new Intl.DateTimeFormat(req.lang, { dateStyle: 'long', timeStyle: 'short' }).format(new Date(value)) : '',
      ...model
    }
  }

  app.decorateReply('renderPage', async function (this: FastifyReply, template: string, model: Record<string, unknown> = {}) {
    return app.view(template, context(this, model)) as Promise<string>
  })

  app.decorateReply('page', async function (this: FastifyReply, template: string, model: Record<string, unknown> = {}, status = 200) {
    const html = await this.viewAsync(template, context(this, model))
    return this.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html)
  })
}, { name: 'render' })

