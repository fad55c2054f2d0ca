// A first start with everything given by the environment (database, cache, ADMIN_*) installs
// without the browser: every step's own checks run on the presets, then the same journaled
// install as the wizard's. The log says what was done; no secret is ever logged.
import type { FastifyInstance } from 'fastify'
import { isLanguage, translator } from '../i18n.ts'
import { startFinalize, type FinalizeDeps } from './finalize.ts'
import { isUnattended, presetInputs } from './preset.ts'
import { STEPS, markDone, newWizardData, type Input, type StepContext, type StepId } from './wizard.ts'

// Steps the environment does not answer take their plain defaults.
const DEFAULTS: Partial<Record<StepId, Input>> = { prerequisites: {}, restore: { mode: 'fresh' } }

export type UnattendedResult = 'notRequested' | 'installed' | 'failed'

export async function runUnattended (app: FastifyInstance, deps: Omit<FinalizeDeps, 'app' | 'data'>, env: NodeJS.ProcessEnv): Promise<UnattendedResult> {
  const { config } = app.amorce
  const presets = presetInputs(config, env)
  if (app.amorce.mode !== 'setup' || !isUnattended(presets)) return 'notRequested'
  const lang = isLanguage(presets.language?.language) ? presets.language.language : 'en'
  const t = translator(lang)
  const log = app.log.child({ component: 'unattended' })
  log.info('installing from the environment (DATABASE_*, CACHE_*, ADMIN_*)')

  const data = newWizardData()
  const ctx: StepContext = { config, data, lang, t }
  for (const step of STEPS) {
    if (step.id === 'finalize') break
    const input = presets[step.id] ?? (step.id === 'language' ? { language: lang } : DEFAULTS[step.id] ?? {})
    const outcome = await step.submit(input, ctx)
    if (outcome.errors) {
      // Field names and localized messages only: the input itself may hold secrets.
      const problems = Object.entries(outcome.errors).map(([field, e]) => `${field}: ${t(e.key, e.params ?? {})}`)
      log.error({ step: step.id, problems }, `unattended install stopped at the ${step.id} step; the wizard stays open`)
      return 'failed'
    }
    markDone(data, step.id)
    log.info({ step: step.id }, 'step accepted')
  }

  const job = startFinalize({ app, data, ...deps })
  const onEvent = (e: { stage: string, status: string, message?: { key: string, params?: Record<string, unknown> } }) => {
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
  log.info({ admin: presets.admin?.username }, 'installed from the environment')
  return 'installed'
}
