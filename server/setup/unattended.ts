// A first start with everything given by the environment (every step preset, or with a plain default)
// installs without the browser: every step's own checks run on the presets, then the same journaled
// install as the wizard's. AMORCE_ANSWERS=<answers file> answers the steps the environment leaves open
// (from-answers.ts). The log says what was done; no secret is ever logged.
import type { FastifyInstance } from 'fastify'
import { isLanguage, translator } from '../i18n.ts'
import { currentFinalize, startFinalize, type FinalizeDeps, type StageEvent } from './finalize.ts'
import { isUnattended, presetInputs } from './preset.ts'
import { answersInputs, answersPath } from './from-answers.ts'
import { newWizardData } from './registry.ts'
import type { StepContext } from './step.ts'
import { wizardState } from './state.ts'

export type UnattendedResult = 'notRequested' | 'installed' | 'failed'

export async function runUnattended (app: FastifyInstance, deps: Omit<FinalizeDeps, 'app' | 'data'>, env: NodeJS.ProcessEnv): Promise<UnattendedResult> {
  const { config } = app.amorce
  const { registry } = wizardState(app)
  const presets = presetInputs(registry, config, env)
  const fromEnvironment = new Set(Object.keys(presets))
  if (app.amorce.mode !== 'setup') return 'notRequested'
  let t = translator('en')
  const log = app.log.child({ component: 'unattended' })
  // AMORCE_ANSWERS: an answers file answers the steps the real environment leaves open (E, issue 16).
  let fromFile: Awaited<ReturnType<typeof answersInputs>> | undefined
  if (env.AMORCE_ANSWERS) {
    fromFile = await answersInputs(registry, env.AMORCE_ANSWERS, env)
    if (fromFile.inputs === null) {
      for (const p of fromFile.problems) log.error({ path: p.path }, `${env.AMORCE_ANSWERS}: ${p.path}: ${p.message}`)
      log.error({ problems: fromFile.problems.length }, `the answers file ${env.AMORCE_ANSWERS} cannot be used; the wizard stays open`)
      return 'failed'
    }
    Object.assign(presets, { ...fromFile.inputs, ...presets })
  }
  if (!isUnattended(registry, presets)) {
    if (fromFile) log.error(`the answers file ${env.AMORCE_ANSWERS} leaves steps unanswered (${registry.steps.filter(s => !s.final && presets[s.id] === undefined && !s.unattended).map(s => `$.${s.id}`).join(', ')}); the wizard stays open`)
    return fromFile ? 'failed' : 'notRequested'
  }
  log.info(fromFile
    ? `installing from the answers file ${env.AMORCE_ANSWERS}`
    : `installing from the environment (${registry.steps.flatMap(s => s.preset?.env ?? []).filter(k => env[k] !== undefined).join(', ')})`)

  const data = newWizardData()
  const ctx: StepContext = { config, data, lang: 'en', t, definition: app.amorce.definition, registry, installing: currentFinalize(app)?.active ?? false }
  for (const step of registry.steps) {
    if (step.final) break
    const input = presets[step.id] ?? step.unattended?.(ctx) ?? {}
    const outcome = await step.submit(input, ctx)
    if (outcome.errors) {
      // Field names and localized messages only: the input itself may hold secrets.
      const problems = Object.entries(outcome.errors).flatMap(([field, e]) => e ? [`${field}: ${t(e.key, e.params ?? {})}`] : [])
      // From an answers file, each problem also by where it is in the file (the environment's own presets win).
      if (fromFile?.answers && !fromEnvironment.has(step.id)) {
        for (const [field, e] of Object.entries(outcome.errors)) {
          if (!e) continue
          const where = answersPath(step.id, field, fromFile.answers[step.id])
          log.error({ step: step.id, field, path: where }, `${env.AMORCE_ANSWERS}: ${where}: ${t(e.key, e.params ?? {})}`)
        }
      }
      log.error({ step: step.id, problems }, `unattended install stopped at the ${step.id} step; the wizard stays open`)
      return 'failed'
    }
    registry.markDone(data, step.id)
    // The language step's answer (APP_LOCALE) is the log's language from here on.
    if (outcome.uiLanguage && isLanguage(outcome.uiLanguage)) {
      ctx.lang = outcome.uiLanguage
      ctx.t = t = translator(outcome.uiLanguage)
    }
    log.info({ step: step.id }, 'step accepted')
  }

  const job = startFinalize({ app, data, ...deps })
  const onEvent = (e: StageEvent) => {
    if (e.status !== 'running') log.info({ stage: e.stage, status: e.status }, e.message ? t(e.message.key, e.message.params ?? {}) : e.status)
  }
  for (const e of job.events) onEvent(e)
  job.on('event', onEvent)
  await job.done
  job.off('event', onEvent)
  if (job.state !== 'succeeded') {
    log.error({ reason: job.error ? t(job.error.key, job.error.params ?? {}) : 'unknown' }, 'unattended install failed; the wizard stays open')
    return 'failed'
  }
  log.info({ admin: data.answers.admin?.username }, 'installed from the environment')
  return 'installed'
}
