// Pages: Eta templates looked up in the app's view directories (the host's `<root>/views` first, then
// Amorce's), rendered with what every page needs (t, lang, base path, the languages offered, the brand).
import { existsSync } from 'node:fs'
import path from 'node:path'
import fp from 'fastify-plugin'
import view from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyReply } from 'fastify'
import { packageDir } from '../paths.ts'

export const viewsDir = packageDir('views')

/**
 * An Eta whose templates and includes (`/partials/field`, `./x`) are searched in `dirs` in order: a host
 * overrides one of Amorce's pages or partials by a file of the same name in its own views directory.
 */
export function searchPathEta (dirs: readonly string[], production: boolean): Eta {
  const eta = new Eta({ views: dirs.at(-1), cache: production, autoEscape: true, autoTrim: false })
  // Resolved names are remembered in production only, so a template added while developing is found at once.
  const resolved = new Map<string, string>()
  const within = (dir: string, file: string) => {
    const relative = path.relative(dir, file)
    return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)
  }
  eta.resolvePath = function (template: string, options?: { filepath?: string }) {
    const withExt = path.extname(template) ? template : `${template}.eta`
    const base = options?.filepath
    // A relative include is relative to the including template, in whichever directory that one was found.
    let name = withExt.replace(/^[/\\]+/, '')
    if (base && !/^[/\\]/.test(withExt)) {
      const home = dirs.find(dir => within(dir, base))
      if (home) name = path.join(path.dirname(path.relative(home, base)), withExt)
    }
    const cached = resolved.get(name)
    if (cached) return cached
    for (const dir of dirs) {
      const file = path.join(dir, name)
      if (!within(dir, file)) throw new Error(`template '${template}' is not in a views directory`)
      if (existsSync(file)) {
        if (production) resolved.set(name, file)
        return file
      }
    }
    return path.join(dirs.at(-1)!, name)
  }
  if (!production) {
    // Outside production every render reads its templates again, so an edit shows at once; compiling them
    // again (a tenth of a page's time) only happens when a template's text changed.
    const compiled = new Map<string, { source: string, fn: ReturnType<Eta['compile']> }>()
    const compile = eta.compile.bind(eta)
    eta.compile = (source, options) => {
      const key = `${options?.async ? 'async' : 'sync'}:${options?.filepath ?? source}`
      const known = compiled.get(key)
      if (known?.source === source) return known.fn
      const fn = compile(source, options)
      compiled.set(key, { source, fn })
      return fn
    }
  }
  return eta
}

/** What a page is rendered with, besides the common context (t, lang, base, csrf(), languages, brand…). */
export type PageModel = Record<string, unknown>

declare module 'fastify' {
  interface FastifyReply {
    /** Renders `<template>.eta` (the app's views first, then Amorce's) with the common page context; no-store. */
    page(template: string, model?: PageModel, status?: number): Promise<FastifyReply>
    /** Renders to a string (for streamed pages). */
    renderPage(template: string, model?: PageModel): Promise<string>
  }
}

export default fp(async function render (app, opts: { production: boolean }) {
  const dirs = app.amorce.definition.views
  const eta = searchPathEta(dirs, opts.production)
  await app.register(view, { engine: { eta }, root: dirs.at(-1), production: opts.production, defaultContext: {} })
  const { languages, brand } = app.amorce.definition
  // Each language named in its own words (Deutsch, Français), as a switcher should.
  const languageName = (lang: string) => {
    const key = `common.language.${lang}`
    const own = app.amorce.i18n.translator(lang)(key)
    if (own !== key) return own
    try { return new Intl.DisplayNames([lang], { type: 'language' }).of(lang) ?? lang } catch { return lang }
  }

  function context (reply: FastifyReply, model: Record<string, unknown>): Record<string, unknown> {
    const req = reply.request
    return {
      t: req.t,
      lang: req.lang,
      base: app.amorce.config.basePath,
      mode: app.amorce.mode,
      path: req.url.split('?')[0],
      /** the languages offered: the switcher shows them when there are two or more */
      languages,
      languageName,
      brand,
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

