// Setup mode's HTTP surface: the token gate, GET/POST /setup/:step for every step, the streamed
// install, the resume page after a crash and the hand-placed `.env`. Every route checks the mode
// on every request (once installed, all answer 404) and the token, bound to the session.
import path from 'node:path'
import { PassThrough } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isLanguage } from '../i18n.ts'
import {
  answersComplete, answersFromJournal, currentFinalize, readJournal, startFinalize, STAGES,
  type FinalizeDeps, type FinalizeJob, type StageEvent
} from './finalize.ts'
import { formInput } from '../form.ts'
import { presetInputs } from './preset.ts'
import { FailureLimiter, tokenMatches } from './token.ts'
import {
  STEPS, answersSnapshot, findStep, firstIncompleteStep, isReachable, markDone, newWizardData, nextStep, previousStep, stepper,
  type Errors, type Input, type Step, type StepContext, type WizardData
} from './wizard.ts'

declare module '@fastify/session' {
  interface FastifySessionObject {
    setupAuthorized?: boolean
    wizard?: WizardData
  }
}

export { formInput }

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

  // Wrong tokens per client address; past the limit every attempt is refused unchecked.
  const failures = new FailureLimiter()

  /**
   * One attempt at the token. Answers the refusal itself and returns false, or returns true once
   * the session is trusted (with a new id, so an id planted before the token was entered is worthless).
   */
  async function enterToken (req: FastifyRequest, reply: FastifyReply, given: string | undefined, wrongStatus: number): Promise<boolean> {
    const setup = app.amorce.setup!
    if (Date.now() >= setup.tokenExpiresAt) {
      await reply.page('setup/token', { error: { key: 'setup.token.errors.expired' } }, 403)
      return false
    }
    const wait = failures.retryAfter(req.ip)
    if (wait > 0) {
      await reply.header('retry-after', String(wait)).page('setup/token', { error: { key: 'setup.token.errors.tooMany', params: { seconds: wait } } }, 429)
      return false
    }
    if (!given) {
      await reply.page('setup/token', { error: { key: 'setup.token.errors.required' } }, 422)
      return false
    }
    if (!tokenMatches(given, setup.token)) {
      failures.fail(req.ip)
      req.log.warn({ ip: req.ip }, 'wrong setup token')
      await reply.page('setup/token', { error: { key: 'setup.token.errors.invalid' } }, wrongStatus)
      return false
    }
    await req.session.regenerate()
    req.session.setupAuthorized = true
    return true
  }

  // The token gate, on every route of this plugin (pages, posts, actions, streams, downloads).
  // `?token=` is accepted once, then dropped from the address.
  app.addHook('preHandler', async (req, reply) => {
    const query = req.query as Record<string, unknown>
    if (query.token !== undefined) {
      const given = [query.token].flat().find(v => typeof v === 'string') as string | undefined
      if (!req.session.setupAuthorized && !await enterToken(req, reply, given, 403)) return reply
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (k !== 'token' && typeof v === 'string') params.set(k, v)
      const rest = params.toString()
      return reply.redirect(req.url.split('?')[0] + (rest ? `?${rest}` : ''), 303)
    }
    if (req.session.setupAuthorized || req.routeOptions.url === url('/token')) return
    if (req.method === 'GET') return reply.redirect(url('/token'), 303)
    return reply.page('setup/token', { error: { key: 'setup.token.errors.required' } }, 403)
  })

  app.get('/token', async (req, reply) => {
    if (req.session.setupAuthorized) return reply.redirect(url(''), 303)
    const expired = Date.now() >= app.amorce.setup!.tokenExpiresAt
    return reply.page('setup/token', expired ? { error: { key: 'setup.token.errors.expired' } } : {}, expired ? 403 : 200)
  })

  app.post('/token', async (req, reply) => {
    // Already trusted (another tab): nothing to check, and the wizard's answers must not be reset.
    if (req.session.setupAuthorized) return reply.redirect(url(''), 303)
    const input = formInput(req.body)
    if (!await enterToken(req, reply, input.token, 422)) return reply
    return reply.redirect(url(''), 303)
  })

  /** An interrupted install (journal left by a crash) comes first, unless this session has answers. */
  async function interrupted (req: FastifyRequest): Promise<boolean> {
    if (currentFinalize()?.active || (req.session.wizard?.done.length ?? 0) > 0) return false
    return (await readJournal(app.amorce.config.dataDir)) !== null
  }

  app.get('/', async (req, reply) => {
    if (await interrupted(req)) return reply.redirect(url('/resume'), 303)
    return reply.redirect(url(`/${firstIncompleteStep(wizard(req)).id}`), 303)
  })

  // After a restart: where the install stopped, and the way on (resume, or back to the summary).
  app.get('/resume', async (req, reply) => {
    const journal = await readJournal(app.amorce.config.dataDir)
    if (!journal) return reply.redirect(url(''), 303)
    if (currentFinalize()?.active) return reply.redirect(url('/install'), 303)
    const data = await answersFromJournal(journal, app.amorce.config.envFile)
    return reply.page('setup/resume', {
      stages: STAGES.map(id => ({ id, done: Boolean(journal.stages[id]), at: journal.stages[id] ?? '' })),
      failed: journal.failed ?? null,
      startedAt: journal.startedAt,
      resumable: answersComplete(data)
    })
  })

  app.post('/resume', async (req, reply) => {
    const journal = await readJournal(app.amorce.config.dataDir)
    if (!journal) return reply.redirect(url(''), 303)
    const data = await answersFromJournal(journal, app.amorce.config.envFile)
    req.session.wizard = data
    if (formInput(req.body)._action === 'resume' && answersComplete(data)) return streamInstall(req, reply, data)
    return reply.redirect(url(`/${firstIncompleteStep(data).id}`), 303)
  })

  // The running (or last) install, for another tab, a reload, or after placing the `.env`.
  app.get('/install', async (req, reply) => {
    const job = currentFinalize()
    if (!job) return reply.redirect(url(''), 303)
    return streamInstall(req, reply, null)
  })

  // The `.env` the wizard could not write, as a download (token holders only, like every route here).
  app.get('/install/env', async (_req, reply) => {
    const placement = currentFinalize()?.envPlacement
    if (!placement) return reply.callNotFound()
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="${path.basename(placement.file).replace(/[^\w.-]/g, '_') || '.env'}"`)
      .send(placement.content)
  })

  // "I have placed it": the file is checked against what was generated before the install goes on.
  app.post('/install/env', async (req, reply) => {
    const job = currentFinalize()
    if (!job?.envPlacement) return reply.redirect(url(job ? '/install' : ''), 303)
    const problem = await job.confirmPlacement()
    if (problem) return streamInstall(req, reply, null, problem)
    return streamInstall(req, reply, null)
  })

  app.get<{ Params: { step: string } }>('/:step', async (req, reply) => {
    const step = findStep(req.params.step)
    if (!step) return reply.callNotFound()
    if (await interrupted(req)) return reply.redirect(url('/resume'), 303)
    const data = wizard(req)
    const presetErrors = await applyPresets(req, data)
    if (!isReachable(step.id, data)) return reply.redirect(url(`/${firstIncompleteStep(data).id}`), 303)
    const ctx = context(req, data)
    if (isLocked(step, data)) return renderStep(reply, step, ctx, step.values(ctx), presetErrors[step.id] ?? {}, {}, presetErrors[step.id] ? 422 : 200)
    const values = { ...step.values(ctx), ...data.drafts[step.id] }
    return renderStep(reply, step, ctx, values, {}, {})
  })

  app.post<{ Params: { step: string } }>('/:step', async (req, reply) => {
    const step = findStep(req.params.step)
    if (!step) return reply.callNotFound()
    const data = wizard(req)
    const presetErrors = await applyPresets(req, data)
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
    // Answered by the environment: what the form sends is ignored; Next goes on once the preset passed.
    if (isLocked(step, data)) {
      req.session.wizard = data
      const failed = presetErrors[step.id]
      if (failed) return renderStep(reply, step, context(req, data), step.values(context(req, data)), failed, {}, 422)
      return reply.redirect(url(`/${nextOpenStep(step.id, data).id}`), 303)
    }

    const ctx = context(req, data)
    const shown = visibleValues(step, { ...step.values(ctx), ...input })
    if (step.id === 'finalize' && action === 'install') {
      // Another tab or session already installing: follow it, whatever this session answered.
      if (currentFinalize()?.active) return streamInstall(req, reply, null)
      const check = await step.submit(input, ctx)
      if (check.errors) return renderStep(reply, step, ctx, shown, check.errors, check.view ?? {}, 422)
      return streamInstall(req, reply, data)
    }
    if (action !== 'next') {
      // Own properties only: `constructor`, `toString` or `__proto__` are not actions.
      const handler = step.actions && Object.hasOwn(step.actions, action) ? step.actions[action] : undefined
      if (typeof handler !== 'function') return reply.page('error', { status: 400, messageKey: 'errors.badRequest' }, 400)
      saveDraft(step, data, input)
      req.session.wizard = data
      const outcome = await handler(input, ctx)
      return renderStep(reply, step, ctx, shown, outcome.errors ?? {}, outcome.view ?? {}, outcome.errors ? 422 : 200)
    }

    const before = answersSnapshot(data)
    const outcome = await step.submit(input, ctx)
    if (outcome.errors) {
      saveDraft(step, data, input)
      req.session.wizard = data
      return renderStep(reply, step, ctx, shown, outcome.errors, outcome.view ?? {}, 422)
    }
    delete data.drafts[step.id]
    markDone(data, step.id, answersSnapshot(data) !== before)
    if (step.id === 'language' && data.language) {
      reply.setCookie('amorce.lang', data.language, { path: base() || '/', sameSite: 'lax', httpOnly: true, maxAge: 365 * 86400 })
    }
    req.session.wizard = data
    return reply.redirect(url(`/${nextOpenStep(step.id, data).id}`), 303)
  })

  function wizard (req: FastifyRequest): WizardData {
    req.session.wizard ??= newWizardData()
    return req.session.wizard
  }

  /**
   * Submits each step the environment answers (in order, until accepted) and marks it read-only.
   * Returns the errors of presets that failed, by step: the page shows them; the fix is in the environment.
   */
  async function applyPresets (req: FastifyRequest, data: WizardData): Promise<Partial<Record<string, Errors>>> {
    const presets = presetInputs(app.amorce.config, app.amorce.lifecycle?.env ?? process.env)
    const errors: Partial<Record<string, Errors>> = {}
    for (const step of STEPS) {
      const input = presets[step.id]
      if (!input) continue
      data.fromEnvironment ??= []
      if (!data.fromEnvironment.includes(step.id)) data.fromEnvironment.push(step.id)
      if (data.done.includes(step.id)) continue
      const outcome = await step.submit(input, context(req, data))
      if (outcome.errors) errors[step.id] = outcome.errors
      else markDone(data, step.id)
    }
    if (Object.keys(presets).length > 0) req.session.wizard = data
    return errors
  }

  function isLocked (step: Step, data: WizardData): boolean {
    return data.fromEnvironment?.includes(step.id) ?? false
  }

  /** The step after this one, passing over those the environment already answered. */
  function nextOpenStep (id: Step['id'], data: WizardData): Step {
    let next = nextStep(id)
    while (next && isLocked(next, data) && data.done.includes(next.id) && nextStep(next.id)) next = nextStep(next.id)
    return next ?? findStep(id)!
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
      previous: previousStep(step.id)?.id ?? null,
      locked: isLocked(step, ctx.data)
    }, status)
  }

  /**
   * The install page is streamed: each stage is written as it completes, so it works without JS.
   * With `data`, starts the install unless one is running (then follows it); without, follows the current one.
   */
  async function streamInstall (req: FastifyRequest, reply: FastifyReply, data: WizardData | null, placementError?: { key: string, params?: Record<string, unknown> }) {
    const running = currentFinalize()
    const job: FinalizeJob = running?.active || !data ? running! : startFinalize({ app, data: structuredClone(data), ...opts })
    const csrf = reply.generateCsrf()
    // The footer's language links follow this install (`/setup/install?lang=`); once installed, setup answers 404,
    // so the finished page's links open the sign-in page in that language instead.
    const page = await reply.renderPage('setup/install', { stages: STAGES, langHref: url('/install') })
    const [head, rawTail] = page.split('<!--STAGES-->')
    let tail = rawTail
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
    // The `.env` could not be written: show it, with a download and an "I have placed it" check.
    const placement = () => {
      const p = job.envPlacement!
      return `</ol><section class="env-fallback" aria-labelledby="env-fallback-h"><h2 id="env-fallback-h">${escapeHtml(t('setup.finalize.envFallback.title'))}</h2>` +
        `<p>${escapeHtml(t('setup.finalize.envFallback.intro', { file: p.file }))}</p>` +
        (placementError ? `<div class="alert alert-error" role="alert">${escapeHtml(t(placementError.key, placementError.params ?? {}))}</div>` : '') +
        `<pre class="env-content" data-env-content>${escapeHtml(p.content)}</pre>` +
        `<p><a class="button" href="${escapeHtml(url('/install/env'))}" download>${escapeHtml(t('setup.finalize.envFallback.download'))}</a></p>` +
        `<form method="post" action="${escapeHtml(url('/install/env'))}"><input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">` +
        `<p class="hint">${escapeHtml(t('setup.finalize.envFallback.hint'))}</p>` +
        `<button type="submit" class="button primary">${escapeHtml(t('setup.finalize.envFallback.placed'))}</button></form></section>`
    }
    const finish = () => {
      job.off('event', onEvent)
      job.off('waiting', onWaiting)
      if (job.state === 'waiting') {
        stream.end(placement() + tail.replace(/^\s*<\/ol>/, ''))
        return
      }
      const end = job.state === 'succeeded'
        ? { key: 'setup.finalize.done', cls: 'done' }
        : { key: job.error?.key ?? 'setup.finalize.errors.unexpected', cls: 'failed', params: job.error?.params }
      // The final block carries its own heading; the CSS hides "Installing… keep this page open" once it is there.
      const heading = t(job.state === 'succeeded' ? 'setup.finalize.installed' : 'setup.finalize.installFailed')
      stream.write(`</ol><div class="install-result install-${end.cls}" role="status"><h1 class="install-heading" tabindex="-1">${escapeHtml(heading)}</h1>`)
      if (job.state === 'succeeded') {
        tail = tail.replaceAll(`href="${url('/install')}?lang=`, `href="${base()}/login?lang=`)
        stream.write(`<p>${escapeHtml(t('setup.finalize.done'))}</p><p><a class="button primary" href="${escapeHtml(base() || '')}/login">${escapeHtml(t('setup.finalize.login'))}</a></p>`)
      } else {
        stream.write(`<p class="error" role="alert">${escapeHtml(t(end.key, end.params ?? {}))}</p><p><a class="button" href="${escapeHtml(url('/finalize'))}">${escapeHtml(t('setup.finalize.backToSummary'))}</a></p>`)
      }
      stream.end('</div>' + tail.replace(/^\s*<\/ol>/, ''))
    }
    const onWaiting = () => { job.off('end', finish); finish() }
    if (!job.active || job.state === 'waiting') finish()
    else {
      job.on('event', onEvent)
      job.once('end', finish)
      job.once('waiting', onWaiting)
    }
    // Proxies (nginx) must pass each stage on as it comes.
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream)
  }
}

function saveDraft (step: Step, data: WizardData, input: Input): void {
  data.drafts[step.id] = visibleValues(step, input)
}

/** Values without the secret fields, and with secrets inside other fields (a URL's password) removed. */
function visibleValues (step: Step, values: Input): Input {
  const out: Input = {}
  for (const [k, v] of Object.entries(values)) {
    if (!k.startsWith('_') && !step.secretFields?.includes(k)) out[k] = step.redact ? step.redact(k, v) : v
  }
  return out
}

export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!))
}
