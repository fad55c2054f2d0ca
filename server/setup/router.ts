// Setup mode's HTTP surface: the token gate, GET/POST /setup/<id> for every step of the registry (each with
// its body and query schema from the step's fields), the streamed install, the resume page after a crash and
// the hand-placed `.env`. No route knows a step by its id: what a step needs (start the install, change the
// wizard's language) comes back in its outcome. Every route checks the mode on every request (once
// installed, all answer 404) and the token, bound to the session.
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import type { Language } from '../i18n.ts'
import { answersComplete, answersFromJournal, currentFinalize, readJournal, startFinalize, type FinalizeDeps, type StageEvent } from './finalize.ts'
import { formInput } from '../form.ts'
import { presetInputs } from './preset.ts'
import { exportAnswers } from './export.ts'
import { tokenMatches } from './token.ts'
import { answersSnapshot, defaultSteps, newWizardData, type Registry } from './registry.ts'
import type { Errors, FieldError, Input, Step, StepContext, WizardData } from './step.ts'
import { wizardState } from './state.ts'
import { isDryRun } from './dry-run.ts'
import { discardSession, dryRunPlan, dryRunVerdict } from './dry-run-plan.ts'
import { startWarmUp } from './warm-up.ts'

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

/** The wizard's own fields, on every step's form: the button pressed, the CSRF token, a language switch. */
const CONTROL_FIELDS = {
  _action: { type: 'string', maxLength: 64 },
  // Any shape: the CSRF check (before validation) reads it; a repeated one is its business.
  _csrf: {},
  _lang: { type: 'string', maxLength: 16 }
}

/** Query strings of setup pages: the token (accepted once, then dropped) and a language switch. */
const QUERY = {
  type: 'object',
  properties: { token: { type: 'string', maxLength: 4096 }, lang: { type: 'string', maxLength: 16 }, 'dry-run': { type: 'string', maxLength: 16 } }
}

/** A form body of known fields; unknown fields are dropped (removeAdditional), never a 500. */
function bodySchema (fields: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', properties: { ...CONTROL_FIELDS, ...fields }, additionalProperties: false }
}

/** An Ajv error as a field message, in the reader's language (setup.fields.*). */
function fieldError (e: ErrorObject): FieldError {
  const p = e.params as { limit?: number, allowedValues?: unknown[] }
  if (e.keyword === 'maxLength') return { key: 'setup.fields.tooLong', params: { limit: p.limit, count: p.limit } }
  if (e.keyword === 'minLength') return { key: 'setup.fields.tooShort', params: { limit: p.limit, count: p.limit } }
  if (e.keyword === 'enum') return { key: 'setup.fields.choose' }
  if (e.keyword === 'type') return { key: 'setup.fields.oneValue' }
  return { key: 'setup.fields.invalid' }
}

/**
 * A route's validator, compiled by Ajv at the route's first request rather than at start: compiling every
 * step's schemas (and Ajv's meta-schema to check them) was a fifth of the cold start, and the first page needs
 * one of them. A schema Ajv refuses then fails that route's first request (a 500, logged) instead of the start.
 * Only a schema `checked` is held to JSON Schema's meta-schema (a host step's fields): compiling that
 * meta-schema cost the first page 40-50 ms, and Amorce's own schemas are checked by a test instead
 * (test/integration/setup/schemas.test.ts).
 */
function lazyValidator (ajv: Ajv, schema: unknown, checked: boolean, warmers: Array<() => void>): ValidateFunction {
  let compiled: ValidateFunction | undefined
  const compile = () => {
    if (checked && !ajv.validateSchema(schema as object)) throw new Error(`schema is invalid: ${ajv.errorsText(ajv.errors)}`)
    return ajv.compile(schema as object)
  }
  // The warm-up (warm-up.ts) compiles it ahead of its first request, while the server is idle.
  warmers.push(() => { compiled ??= compile() })
  const validate = ((data: unknown, dataCxt?: Parameters<ValidateFunction>[1]) => {
    compiled ??= compile()
    const ok = compiled(data, dataCxt)
    validate.errors = compiled.errors
    return ok
  }) as ValidateFunction
  validate.errors = null
  // Fastify hands the parent (the request) to a validator that has this, as to Ajv's own, so that coercions
  // of a root value reach the request.
  Object.defineProperty(validate, 'schemaEnv', { get: () => compiled?.schemaEnv ?? true })
  return validate
}

export default async function setupRoutes (app: FastifyInstance, opts: SetupRoutesOptions): Promise<void> {
  const base = () => app.amorce.config.basePath
  const url = (p: string) => `${base()}/setup${p}`
  const wizardOf = () => wizardState(app)
  const registry = (): Registry => wizardOf().registry

  // This plugin's validator: every error at once (one message per field), unknown fields dropped, a
  // single repeated value read as that value.
  const ajv = new Ajv({ allErrors: true, removeAdditional: true, coerceTypes: 'array', useDefaults: true, strict: false, validateSchema: false })
  // The schemas this router writes from Amorce's own parts (its routes, its default steps' fields).
  const own = new WeakSet<object>([QUERY])
  const warmers: Array<() => void> = []
  app.setValidatorCompiler(({ schema }) => lazyValidator(ajv, schema, !own.has(schema), warmers))
  startWarmUp(app, { validators: warmers })

  // A validator that could not compile (a host step's schema Ajv refuses) is attached like a refusal (status
  // 500) by Fastify: it is the server's fault, said as one, not a form to correct.
  app.addHook('preHandler', async req => {
    if (req.validationError && (req.validationError as { statusCode?: number }).statusCode === 500) throw req.validationError
  })

  app.addHook('onRoute', route => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') wizardOf().routeSchemas.push({ method, url: route.url, schema: (route.schema ?? {}) as { body?: unknown, querystring?: unknown } })
  })

  // The install lock, checked on every request and every path under /setup.
  app.addHook('onRequest', async (_req, reply) => {
    if (app.amorce.mode !== 'setup') return reply.callNotFound()
  })

  /**
   * One attempt at the token. Answers the refusal itself and returns false, or returns true once
   * the session is trusted (with a new id, so an id planted before the token was entered is worthless).
   */
  async function enterToken (req: FastifyRequest, reply: FastifyReply, given: string | undefined, wrongStatus: number, dryRun = false): Promise<boolean> {
    const setup = app.amorce.setup!
    const failures = wizardOf().tokenFailures
    if (Date.now() >= setup.tokenExpiresAt) {
      await reply.page('setup/token', { error: { key: 'setup.token.errors.expired' }, dryRunChecked: dryRun }, 403)
      return false
    }
    const wait = failures.retryAfter(req.ip)
    if (wait > 0) {
      await reply.header('retry-after', String(wait)).page('setup/token', { error: { key: 'setup.token.errors.tooMany', params: { seconds: wait } }, dryRunChecked: dryRun }, 429)
      return false
    }
    if (!given) {
      await reply.page('setup/token', { error: { key: 'setup.token.errors.required' }, dryRunChecked: dryRun }, 422)
      return false
    }
    if (!tokenMatches(given, setup.token)) {
      failures.fail(req.ip)
      req.log.warn({ ip: req.ip }, 'wrong setup token')
      await reply.page('setup/token', { error: { key: 'setup.token.errors.invalid' }, dryRunChecked: dryRun }, wrongStatus)
      return false
    }
    // The session is replaced: what its steps kept on the server for an install (an upload) goes with it.
    if (req.session.wizard) await discardSession(registry(), req.session.wizard, app.amorce.config, req.log)
    await req.session.regenerate()
    req.session.setupAuthorized = true
    return true
  }

  /** A new session that only checks: every step walked, nothing installed (dry-run.ts). */
  function startDryRun (req: FastifyRequest): void {
    req.session.wizard = { ...newWizardData(), dryRun: { startedAt: new Date().toISOString() } }
    req.log.info('dry run started')
  }

  // The token gate, on every route of this plugin (pages, posts, actions, streams, downloads).
  // `?token=` is accepted once, then dropped from the address.
  app.addHook('preHandler', async (req, reply) => {
    const query = req.query as Record<string, unknown>
    if (query.token !== undefined) {
      const given = [query.token].flat().find(v => typeof v === 'string') as string | undefined
      if (!req.session.setupAuthorized && !await enterToken(req, reply, given, 403)) return reply
      if (query['dry-run'] === '1' && !isDryRun(req.session.wizard) && (req.session.wizard?.done.length ?? 0) === 0) startDryRun(req)
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (k !== 'token' && k !== 'dry-run' && typeof v === 'string') params.set(k, v)
      const rest = params.toString()
      return reply.redirect(req.url.split('?')[0] + (rest ? `?${rest}` : ''), 303)
    }
    if (req.session.setupAuthorized || req.routeOptions.url === url('/token')) return
    if (req.method === 'GET') return reply.redirect(url('/token'), 303)
    return reply.page('setup/token', { error: { key: 'setup.token.errors.required' } }, 403)
  })

  /** A query string or a control field the schema refused: the page is not understood (never Fastify's JSON). */
  const badRequest = (reply: FastifyReply) => reply.page('error', { status: 400, messageKey: 'errors.badRequest' }, 400)
  const pageSchema: FastifySchema = { querystring: QUERY }
  const formSchema = (fields: Record<string, unknown>, ownFields = true): FastifySchema => {
    const body = bodySchema(fields)
    if (ownFields) own.add(body)
    return { querystring: QUERY, body }
  }
  const routeOptions = (schema: FastifySchema) => ({ schema, attachValidation: true })

  app.get('/token', routeOptions(pageSchema), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    if (req.session.setupAuthorized) return reply.redirect(url(''), 303)
    const expired = Date.now() >= app.amorce.setup!.tokenExpiresAt
    // `?dry-run=1` ticks "Dry run" in advance.
    const dryRun = (req.query as Record<string, unknown>)['dry-run'] === '1'
    return reply.page('setup/token', expired ? { error: { key: 'setup.token.errors.expired' }, dryRunChecked: dryRun } : { dryRunChecked: dryRun }, expired ? 403 : 200)
  })

  app.post('/token', routeOptions(formSchema({ token: { type: 'string', maxLength: 4096 }, dryRun: { type: 'string', maxLength: 16 } })), async (req, reply) => {
    // Already trusted (another tab): nothing to check, and the wizard's answers must not be reset.
    if (req.session.setupAuthorized) return reply.redirect(url(''), 303)
    // A token the schema refused (too long, not one value) is a wrong token: counted as one.
    const given = req.validationError ? '\u0000' : formInput(req.body).token
    const dryRun = !req.validationError && formInput(req.body).dryRun === 'yes'
    if (!await enterToken(req, reply, given, 422, dryRun)) return reply
    if (dryRun) startDryRun(req)
    return reply.redirect(url(''), 303)
  })

  // "End dry run" (the summary's button, and the notice on every page of a dry run): the Install action's own
  // verdict and the plan, then what the steps kept is removed and the session ends. Nothing else is written.
  app.post('/dry-run/end', routeOptions(formSchema({})), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    const data = req.session.wizard
    if (!data || !isDryRun(data)) return reply.redirect(url(''), 303)
    const setup = app.amorce.setup!
    const verdict = await dryRunVerdict({ step: context(req, data), setup, log: req.log })
    await discardSession(registry(), data, app.amorce.config, req.log)
    await req.session.destroy()
    req.log.info({ accepted: verdict.accepted }, 'dry run ended')
    return reply.page('setup/dry-run-end', { verdict, result: jsonForScript(verdict), tokenUrl: url('/token') })
  })

  /** An interrupted install (journal left by a crash) comes first, unless this session has answers. */
  async function interrupted (req: FastifyRequest): Promise<boolean> {
    // A dry run never resumes (nor starts) an install.
    if (currentFinalize(app)?.active || (req.session.wizard?.done.length ?? 0) > 0 || isDryRun(req.session.wizard)) return false
    return (await readJournal(app.amorce.config.dataDir)) !== null
  }

  app.get('/', routeOptions(pageSchema), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    if (await interrupted(req)) return reply.redirect(url('/resume'), 303)
    return reply.redirect(url(`/${registry().firstIncomplete(wizard(req)).id}`), 303)
  })

  // After a restart: where the install stopped, and the way on (resume, or back to the summary).
  app.get('/resume', routeOptions(pageSchema), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    const journal = await readJournal(app.amorce.config.dataDir)
    if (!journal || isDryRun(req.session.wizard)) return reply.redirect(url(''), 303)
    if (currentFinalize(app)?.active) return reply.redirect(url('/install'), 303)
    const data = await answersFromJournal(registry(), journal, app.amorce.config.envFile)
    return reply.page('setup/resume', {
      stages: registry().stages.map(s => ({ id: s.id, label: stageLabel(s.id), done: Boolean(journal.stages[s.id]), at: journal.stages[s.id] ?? '' })),
      failed: journal.failed ?? null,
      startedAt: journal.startedAt,
      resumable: answersComplete(registry(), data)
    })
  })

  app.post('/resume', routeOptions(formSchema({})), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    const journal = await readJournal(app.amorce.config.dataDir)
    if (!journal || isDryRun(req.session.wizard)) return reply.redirect(url(''), 303)
    const data = await answersFromJournal(registry(), journal, app.amorce.config.envFile)
    req.session.wizard = data
    if (formInput(req.body)._action === 'resume' && answersComplete(registry(), data)) return streamInstall(req, reply, data)
    return reply.redirect(url(`/${registry().firstIncomplete(data).id}`), 303)
  })

  // The running (or last) install, for another tab, a reload, or after placing the `.env`.
  app.get('/install', routeOptions(pageSchema), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    if (!currentFinalize(app)) return reply.redirect(url(''), 303)
    return streamInstall(req, reply, null)
  })

  // The `.env` the wizard could not write, as a download (token holders only, like every route here).
  app.get('/install/env', routeOptions(pageSchema), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    const placement = currentFinalize(app)?.envPlacement
    if (!placement) return reply.callNotFound()
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="${path.basename(placement.file).replace(/[^\w.-]/g, '_') || '.env'}"`)
      .send(placement.content)
  })

  // "I have placed it": the file is checked against what was generated before the install goes on.
  app.post('/install/env', routeOptions(formSchema({})), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    const job = currentFinalize(app)
    if (!job?.envPlacement) return reply.redirect(url(job ? '/install' : ''), 303)
    const problem = await job.confirmPlacement()
    if (problem) return streamInstall(req, reply, null, problem)
    return streamInstall(req, reply, null)
  })

  // One GET and one POST per step, each POST with the schema of its step's fields.
  for (const step of registry().steps) {
    const fields = Object.fromEntries(Object.entries(step.fields ?? {}).map(([name, f]) => [name, f.schema]))
    app.get(`/${step.id}`, routeOptions(pageSchema), async (req, reply) => {
      if (req.validationError) return badRequest(reply)
      return showStep(req, reply, step)
    })
    app.post(`/${step.id}`, routeOptions(formSchema(fields, (defaultSteps as readonly Step[]).includes(step))), async (req, reply) => submitStep(req, reply, step))
  }
  // "Download these answers" on the summary page: the answers file of this wizard, secrets as ${NAME} (export.ts).
  app.get('/answers.json', routeOptions(pageSchema), async (req, reply) => {
    if (req.validationError) return badRequest(reply)
    const data = wizard(req)
    const open = registry().steps.find(s => !s.final && !data.done.includes(s.id))
    if (open) return reply.redirect(url(`/${open.id}`), 303)
    const { answers } = exportAnswers(registry(), context(req, data))
    return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store')
      .header('content-disposition', 'attachment; filename="answers.json"')
      .send(JSON.stringify(answers, null, 2) + '\n')
  })

  // Any other address under /setup: behind the token gate like the rest, then not found.
  app.get('/:step', routeOptions(pageSchema), async (_req, reply) => reply.callNotFound())
  app.post('/:step', routeOptions(formSchema({})), async (_req, reply) => reply.callNotFound())

  async function showStep (req: FastifyRequest, reply: FastifyReply, step: Step) {
    if (await interrupted(req)) return reply.redirect(url('/resume'), 303)
    const data = wizard(req)
    const presetErrors = await applyPresets(req, data)
    if (!registry().isReachable(step.id, data)) return reply.redirect(url(`/${registry().firstIncomplete(data).id}`), 303)
    const ctx = context(req, data)
    if (isLocked(step, data)) return renderStep(reply, step, ctx, step.values(ctx), presetErrors[step.id] ?? {}, {}, presetErrors[step.id] ? 422 : 200)
    const values = { ...step.values(ctx), ...data.drafts[step.id] }
    return renderStep(reply, step, ctx, values, {}, {})
  }

  async function submitStep (req: FastifyRequest, reply: FastifyReply, step: Step) {
    const data = wizard(req)
    const presetErrors = await applyPresets(req, data)
    if (!registry().isReachable(step.id, data)) return reply.redirect(url(`/${registry().firstIncomplete(data).id}`), 303)
    const input = formInput(req.body)
    const problems = (req.validationError?.validation ?? []) as ErrorObject[]
    // The wizard's own fields must be understood; the step's fields get a message each.
    if (problems.some(e => e.instancePath === '/_action' || e.instancePath === '/_lang')) return badRequest(reply)
    const action = input._action ?? 'next'

    // Language switch: keep what was typed (never secrets), come back to the same step.
    if (app.amorce.i18n.isLanguage(input._lang)) {
      saveDraft(step, data, input)
      req.session.wizard = data
      setLanguageCookie(reply, input._lang as Language)
      return reply.redirect(url(`/${step.id}`), 303)
    }
    if (action === 'back') {
      saveDraft(step, data, input)
      req.session.wizard = data
      return reply.redirect(url(`/${(registry().previous(step.id) ?? step).id}`), 303)
    }
    // Answered by the environment: what the form sends is ignored; Next goes on once the preset passed.
    if (isLocked(step, data)) {
      req.session.wizard = data
      const failed = presetErrors[step.id]
      if (failed) return renderStep(reply, step, context(req, data), step.values(context(req, data)), failed, {}, 422)
      return reply.redirect(url(`/${nextOpenStep(step.id, data).id}`), 303)
    }
    // Own properties only: `constructor`, `toString` or `__proto__` are not actions.
    const handler = action === 'next' ? undefined : step.actions && Object.hasOwn(step.actions, action) ? step.actions[action] : undefined
    if (action !== 'next' && typeof handler !== 'function') return badRequest(reply)

    const ctx = context(req, data)
    const shown = visibleValues(step, { ...step.values(ctx), ...input })
    // Values the schema refused: the step again with a message by each field, nothing run.
    if (problems.length > 0) {
      saveDraft(step, data, input)
      req.session.wizard = data
      return renderStep(reply, step, ctx, shown, schemaErrors(problems), {}, 422)
    }
    if (handler) {
      saveDraft(step, data, input)
      req.session.wizard = data
      const outcome = await handler(input, ctx)
      // A dry run installs nothing, whichever step asks: the page says to end the dry run instead.
      if (outcome.install && isDryRun(data)) return renderStep(reply, step, ctx, shown, { _form: { key: 'setup.dryRun.noInstall' } }, {}, 422)
      if (outcome.install) return streamInstall(req, reply, ctx.installing ? null : data)
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
    registry().markDone(data, step.id, answersSnapshot(data) !== before)
    if (outcome.uiLanguage) setLanguageCookie(reply, outcome.uiLanguage)
    req.session.wizard = data
    return reply.redirect(url(`/${nextOpenStep(step.id, data).id}`), 303)
  }

  function setLanguageCookie (reply: FastifyReply, lang: string): void {
    reply.setCookie('amorce.lang', lang, { path: base() || '/', sameSite: 'lax', httpOnly: true, maxAge: 365 * 86400 })
  }

  /** Schema refusals by field; one on the whole body (not a form at all) is said for the form. */
  function schemaErrors (problems: ErrorObject[]): Errors {
    const errors: Errors = {}
    for (const e of problems) {
      const field = e.instancePath.split('/')[1]
      if (field) errors[field] ??= fieldError(e)
      else errors._form ??= { key: 'setup.fields.notAForm' }
    }
    return errors
  }

  function wizard (req: FastifyRequest): WizardData {
    req.session.wizard ??= newWizardData()
    return req.session.wizard
  }

  /**
   * Submits each step the environment answers (in order, until accepted) and marks it read-only.
   * Returns the errors of presets that failed, by step: the page shows them; the fix is in the environment.
   */
  async function applyPresets (req: FastifyRequest, data: WizardData): Promise<Partial<Record<string, Errors>>> {
    const presets = presetInputs(registry(), app.amorce.config, app.amorce.lifecycle?.env ?? process.env)
    const errors: Partial<Record<string, Errors>> = {}
    for (const step of registry().steps) {
      const input = presets[step.id]
      if (!input) continue
      data.fromEnvironment ??= []
      if (!data.fromEnvironment.includes(step.id)) data.fromEnvironment.push(step.id)
      if (data.done.includes(step.id)) continue
      const outcome = await step.submit(input, context(req, data))
      if (outcome.errors) errors[step.id] = outcome.errors
      else registry().markDone(data, step.id)
    }
    if (Object.keys(presets).length > 0) req.session.wizard = data
    return errors
  }

  function isLocked (step: Step, data: WizardData): boolean {
    return data.fromEnvironment?.includes(step.id) ?? false
  }

  /** The step after this one, passing over those the environment already answered. */
  function nextOpenStep (id: string, data: WizardData): Step {
    const r = registry()
    let next = r.next(id)
    while (next && isLocked(next, data) && data.done.includes(next.id) && r.next(next.id)) next = r.next(next.id)
    return next ?? r.find(id)!
  }

  function context (req: FastifyRequest, data: WizardData): StepContext {
    return { config: app.amorce.config, data, lang: req.lang, t: req.t, definition: app.amorce.definition, registry: registry(), installing: currentFinalize(app)?.active ?? false }
  }

  async function renderStep (reply: FastifyReply, step: Step, ctx: StepContext, values: Input, errors: Errors, extra: Record<string, unknown>, status = 200) {
    const view = { ...(await step.view?.(ctx, values)), ...extra }
    const dryRun = isDryRun(ctx.data)
    // The summary of a dry run: what Install would do, instead of doing it.
    const plan = dryRun && step.final ? await dryRunPlan({ step: ctx, setup: app.amorce.setup!, log: reply.request.log }) : null
    return reply.page(registry().template(step), {
      dryRun,
      dryRunPlan: plan,
      dryRunEndUrl: url('/dry-run/end'),
      step: step.id,
      ns: registry().namespace(step),
      values: visibleValues(step, values),
      errors,
      view,
      stepper: registry().stepper(step.id, ctx.data),
      previous: registry().previous(step.id)?.id ?? null,
      locked: isLocked(step, ctx.data)
    }, status)
  }

  function stageLabel (id: string): string {
    return registry().stages.find(s => s.id === id)?.label ?? `setup.finalize.stageNames.${id}`
  }

  /**
   * The install page is streamed: each stage line (views/partials/stage.eta) is written as it comes, so it
   * works without JS. With `data`, starts the install unless one is running (then follows it); without,
   * follows the current one.
   */
  async function streamInstall (req: FastifyRequest, reply: FastifyReply, data: WizardData | null, placementError?: FieldError) {
    const running = currentFinalize(app)
    const job = running?.active || !data ? running! : startFinalize({ app, data: structuredClone(data), ...opts })
    const csrf = reply.generateCsrf()
    // The footer's language links follow this install (`/setup/install?lang=`); once installed, setup answers 404,
    // so the finished page's links open the sign-in page in that language instead.
    const page = await reply.renderPage('setup/install', { langHref: url('/install') })
    const [head, rawTail] = page.split('<!--STAGES-->')
    const tail = rawTail.replace(/^\s*<\/ol>/, '')
    const stream = new PassThrough()
    // Rendering is asynchronous, events are not: lines are written in the order they came.
    let queue = Promise.resolve()
    const write = (render: () => Promise<string>, end = false) => {
      queue = queue.then(render).then(html => { end ? stream.end(html) : stream.write(html) }, err => {
        req.log.error({ err }, 'the install page could not be rendered')
        stream.end()
      })
    }
    const line = (e: StageEvent) => write(() => reply.renderPage('partials/stage', { event: e, label: stageLabel(e.stage) }))
    stream.write(head)
    for (const e of job.events) line(e)
    const onEvent = (e: StageEvent) => line(e)
    const finish = () => {
      job.off('event', onEvent)
      job.off('waiting', onWaiting)
      const succeeded = job.state === 'succeeded'
      write(async () => (await reply.renderPage('partials/install-end', {
        state: job.state,
        error: job.error ?? { key: 'setup.finalize.errors.unexpected' },
        placement: job.state === 'waiting' ? job.envPlacement : null,
        placementError: placementError ?? null,
        csrfToken: csrf,
        summaryUrl: url(`/${registry().steps.at(-1)!.id}`)
      })) + (succeeded ? tail.replaceAll(`href="${url('/install')}?lang=`, `href="${base()}/login?lang=`) : tail), true)
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

  function saveDraft (step: Step, data: WizardData, input: Input): void {
    data.drafts[step.id] = visibleValues(step, input)
  }

  /** Values without the secret fields, and with secrets inside other fields (a URL's password) removed. */
  function visibleValues (step: Step, values: Input): Input {
    const out: Input = {}
    for (const [k, v] of Object.entries(values)) {
      if (!k.startsWith('_') && !registry().isSecret(step, k)) out[k] = step.redact ? step.redact(k, v) : v
    }
    return out
  }
}

/** JSON inside a <script type="application/json">: nothing in it can close the element. */
function jsonForScript (value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!))
}
