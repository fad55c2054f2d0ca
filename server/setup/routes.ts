// Setup mode's HTTP surface: the token gate, GET/POST /setup/:step for every step, and the
// streamed install. Every route checks the mode on every request: once installed, all answer 404.
import { PassThrough } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isLanguage } from '../i18n.ts'
import { currentFinalize, startFinalize, STAGES, type FinalizeDeps, type StageEvent } from './finalize.ts'
import { tokenMatches } from './token.ts'
import {
  findStep, firstIncompleteStep, isReachable, markDone, newWizardData, nextStep, previousStep, stepper,
  type Errors, type Input, type Step, type StepContext, type WizardData
} from './wizard.ts'

declare module '@fastify/session' {
  interface FastifySessionObject {
    setupAuthorized?: boolean
    wizard?: WizardData
  }
}

const MAX_FIELD_LENGTH = 4096

/** Form bodies as flat strings: the first value of a repeated field, nothing but strings. */
export function formInput (body: unknown): Input {
  const input: Input = {}
  if (!body || typeof body !== 'object') return input
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    if (key.length > 64) continue
    const value = Array.isArray(raw) ? raw.find(v => typeof v === 'string') : raw
    if (typeof value === 'string') input[key] = value.slice(0, MAX_FIELD_LENGTH)
  }
  return input
}

export interface SetupRoutesOptions {
  reloadConfig: FinalizeDeps['reloadConfig']
  switchToNormal: FinalizeDeps['switchToNormal']
}

export default async function setupRoutes (app: FastifyInstance, opts: SetupRoutesOptions): Promise<void> {
  const base = () => app.amorce.config.basePath
  const url = (p: string) => `${base()}/setup${p}`

  // The install lock, checked on every request and every path under /setup.
  app.addHook('onRequest', async (_req, reply) => {
    if (app.amorce.mode !== 'setup') return reply.callNotFound()
  })

  // The token gate: `?token=` is accepted once, then dropped from the address.
  app.addHook('preHandler', async (req, reply) => {
    const query = req.query as Record<string, unknown>
    if (typeof query.token === 'string') {
      if (tokenMatches(query.token, app.amorce.setup!.token)) {
        req.session.setupAuthorized = true
        const params = new URLSearchParams(query as Record<string, string>)
        params.delete('token')
        const rest = params.toString()
        return reply.redirect(req.url.split('?')[0] + (rest ? `?${rest}` : ''), 303)
      }
      return reply.page('setup/token', { error: { key: 'setup.token.errors.invalid' } }, 403)
    }
    if (req.session.setupAuthorized || req.routeOptions.url === url('/token')) return
    if (req.method === 'GET') return reply.redirect(url('/token'), 303)
    return reply.page('setup/token', { error: { key: 'setup.token.errors.required' } }, 403)
  })

  app.get('/token', async (req, reply) => {
    if (req.session.setupAuthorized) return reply.redirect(url(''), 303)
    return reply.page('setup/token', {})
  })

  app.post('/token', async (req, reply) => {
    const input = formInput(req.body)
    if (!tokenMatches(input.token, app.amorce.setup!.token)) {
      req.log.warn({ ip: req.ip }, 'wrong setup token')
      return reply.page('setup/token', { error: { key: input.token ? 'setup.token.errors.invalid' : 'setup.token.errors.required' } }, 422)
    }
    // A new session id once trusted, so an id planted before the token was entered is worthless.
    await req.session.regenerate()
    req.session.setupAuthorized = true
    return reply.redirect(url(''), 303)
  })

  app.get('/', async (req, reply) => reply.redirect(url(`/${firstIncompleteStep(wizard(req)).id}`), 303))

  app.get<{ Params: { step: string } }>('/:step', async (req, reply) => {
    const step = findStep(req.params.step)
    if (!step) return reply.callNotFound()
    const data = wizard(req)
    if (!isReachable(step.id, data)) return reply.redirect(url(`/${firstIncompleteStep(data).id}`), 303)
    const ctx = context(req, data)
    const values = { ...step.values(ctx), ...data.drafts[step.id] }
    return renderStep(reply, step, ctx, values, {}, {})
  })

  app.post<{ Params: { step: string } }>('/:step', async (req, reply) => {
    const step = findStep(req.params.step)
    if (!step) return reply.callNotFound()
    const data = wizard(req)
    if (!isReachable(step.id, data)) return reply.redirect(url(`/${firstIncompleteStep(data).id}`), 303)
    const input = formInput(req.body)
    const action = input._action ?? 'next'

    // Language switch: keep what was typed (never secrets), come back to the same step.
    if (isLanguage(input._lang)) {
      saveDraft(step, data, input)
      req.session.wizard = data
      reply.setCookie('amorce.lang', input._lang, { path: base() || '/', sameSite: 'lax', httpOnly: true, maxAge: 365 * 86400 })
      return reply.redirect(url(`/${step.id}`), 303)
    }
    if (action === 'back') {
      saveDraft(step, data, input)
      req.session.wizard = data
      return reply.redirect(url(`/${(previousStep(step.id) ?? step).id}`), 303)
    }

    const ctx = context(req, data)
    const shown = visibleValues(step, { ...step.values(ctx), ...input })
    if (step.id === 'finalize' && action === 'install') {
      const check = await step.submit(input, ctx)
      if (check.errors) return renderStep(reply, step, ctx, shown, check.errors, check.view ?? {}, 422)
      return streamInstall(req, reply, data)
    }
    if (action !== 'next') {
      const handler = step.actions?.[action]
      if (!handler) return reply.page('error', { status: 400, messageKey: 'errors.badRequest' }, 400)
      saveDraft(step, data, input)
      req.session.wizard = data
      const outcome = await handler(input, ctx)
      return renderStep(reply, step, ctx, shown, outcome.errors ?? {}, outcome.view ?? {}, outcome.errors ? 422 : 200)
    }

    const outcome = await step.submit(input, ctx)
    if (outcome.errors) {
      saveDraft(step, data, input)
      req.session.wizard = data
      return renderStep(reply, step, ctx, shown, outcome.errors, outcome.view ?? {}, 422)
    }
    delete data.drafts[step.id]
    markDone(data, step.id)
    if (step.id === 'language' && data.language) {
      reply.setCookie('amorce.lang', data.language, { path: base() || '/', sameSite: 'lax', httpOnly: true, maxAge: 365 * 86400 })
    }
    req.session.wizard = data
    return reply.redirect(url(`/${(nextStep(step.id) ?? step).id}`), 303)
  })

  function wizard (req: FastifyRequest): WizardData {
    req.session.wizard ??= newWizardData()
    return req.session.wizard
  }

  function context (req: FastifyRequest, data: WizardData): StepContext {
    return { config: app.amorce.config, data, lang: req.lang, t: req.t }
  }

  async function renderStep (reply: FastifyReply, step: Step, ctx: StepContext, values: Input, errors: Errors, extra: Record<string, unknown>, status = 200) {
    const view = { ...(await step.view?.(ctx, values)), ...extra }
    return reply.page(`setup/${step.id}`, {
      step: step.id,
      values: visibleValues(step, values),
      errors,
      view,
      stepper: stepper(step.id, ctx.data),
      previous: previousStep(step.id)?.id ?? null
    }, status)
  }

  /** The install page is streamed: each stage is written as it completes, so it works without JS. */
  async function streamInstall (req: FastifyRequest, reply: FastifyReply, data: WizardData) {
    const job = currentFinalize()?.state === 'running' ? currentFinalize()! : startFinalize({ app, data: structuredClone(data), ...opts })
    const page = await reply.renderPage('setup/install', { stages: STAGES })
    const [head, tail] = page.split('<!--STAGES-->')
    const stream = new PassThrough()
    const t = req.t
    const line = (e: StageEvent) => {
      const label = t(`setup.finalize.stageNames.${e.stage}`)
      const text = e.message ? t(e.message.key, e.message.params ?? {}) : ''
      return `<li class="stage stage-${e.status}" data-stage="${e.stage}" data-status="${e.status}"><span class="stage-name">${escapeHtml(label)}</span>` +
        `<span class="stage-status">${escapeHtml(t(`setup.finalize.status.${e.status}`))}</span>` +
        (text ? `<span class="stage-detail">${escapeHtml(text)}</span>` : '') + '</li>\n'
    }
    stream.write(head)
    for (const e of job.events) stream.write(line(e))
    const onEvent = (e: StageEvent) => stream.write(line(e))
    const finish = () => {
      job.off('event', onEvent)
      const end = job.state === 'succeeded'
        ? { key: 'setup.finalize.done', cls: 'done' }
        : { key: job.error?.key ?? 'setup.finalize.errors.unexpected', cls: 'failed', params: job.error?.params }
      stream.write(`</ol><div class="install-result install-${end.cls}" role="status">`)
      if (job.state === 'succeeded') {
        stream.write(`<p>${escapeHtml(t('setup.finalize.done'))}</p><p><a class="button primary" href="${escapeHtml(base() || '')}/login">${escapeHtml(t('setup.finalize.login'))}</a></p>`)
      } else {
        stream.write(`<p class="error" role="alert">${escapeHtml(t(end.key, end.params ?? {}))}</p><p><a class="button" href="${escapeHtml(url('/finalize'))}">${escapeHtml(t('setup.finalize.backToSummary'))}</a></p>`)
      }
      stream.end('</div>' + tail.replace(/^\s*<\/ol>/, ''))
    }
    if (job.state !== 'running') finish()
    else {
      job.on('event', onEvent)
      job.once('end', finish)
    }
    // Proxies (nginx) must pass each stage on as it comes.
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream)
  }
}

function saveDraft (step: Step, data: WizardData, input: Input): void {
  const draft: Input = {}
  for (const [k, v] of Object.entries(input)) {
    if (!k.startsWith('_') && !step.secretFields?.includes(k)) draft[k] = v
  }
  data.drafts[step.id] = draft
}

function visibleValues (step: Step, values: Input): Input {
  const out: Input = {}
  for (const [k, v] of Object.entries(values)) if (!k.startsWith('_') && !step.secretFields?.includes(k)) out[k] = v
  return out
}

export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!))
}
