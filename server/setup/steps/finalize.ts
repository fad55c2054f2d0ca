// Step 7: the summary of every answer (no secrets, each step gives its own lines) before "Install". Its
// Install button starts the journaled install (../finalize.ts), which runs the stages every step
// contributes; this step contributes the `.env` (first), the lock and the switch to normal mode (last).
import { envFileEntries, type AppConfig, type ConfigValues } from '../../config/config.ts'
import { readEnvFile } from '../../config/envfile.ts'
import { defineStep, type ActionOutcome, type FieldError, type StageContext, type StepContext } from '../step.ts'
import { withoutEnvironmentKeys } from '../preset.ts'
import { exportAnswers } from '../export.ts'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { translator } from '../../i18n.ts'
import { INSTALL_LOCK_SETTING } from '../lock.ts'

export { INSTALL_LOCK_SETTING }

/** The answers file of this install (no secret: placeholders), in the data directory, offered on the dashboard afterwards (issue 16). */
export const INSTALL_ANSWERS_FILE = 'install-answers.json'

/** The `.env` entries for these values: keys the administrator added are kept, keys the real environment sets stay out. */
export async function envEntriesFor (config: AppConfig, values: ConfigValues, extra: { installedAt?: string } = {}): Promise<Record<string, string>> {
  const existing = await readEnvFile(config.envFile).catch(() => null) ?? {}
  return withoutEnvironmentKeys(envFileEntries({ ...values, ...extra }, existing), config)
}

function envEntries (ctx: StageContext, extra: { installedAt?: string } = {}): Promise<Record<string, string>> {
  return envEntriesFor(ctx.config, ctx.values, extra)
}

/**
 * Why the Install button would be refused now, or null: every step before the summary accepted. The Install
 * action and a dry run's end both ask this, so a dry run's verdict is the Install's own.
 */
export function installRefusal (ctx: StepContext): FieldError | null {
  const missing = ctx.registry.steps.filter(s => !s.final && !ctx.data.done.includes(s.id))
  if (missing.length > 0) return { key: 'setup.finalize.errors.incomplete', params: { step: ctx.t(`${ctx.registry.namespace(missing[0])}.title`) } }
  return null
}

/**
 * This install's answers file, kept for the dashboard's "Download these answers" (a Setting value is too
 * short on MySQL). Never fails the install: the file is a convenience.
 */
async function keepAnswers (ctx: StageContext): Promise<void> {
  try {
    // (The registry is imported here, not at the top: it imports this module.)
    const registry = (await import('../registry.ts')).createRegistry(ctx.definition.steps)
    const lang = ctx.answers.language ?? 'en'
    const { answers } = exportAnswers(registry, { config: ctx.config, data: ctx.data, lang, t: translator(lang), definition: ctx.definition, registry, installing: true })
    await writeFile(path.join(ctx.config.dataDir, INSTALL_ANSWERS_FILE), JSON.stringify(answers, null, 2) + '\n', { mode: 0o600 })
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'the answers file of this install could not be kept')
  }
}

export const finalizeStep = defineStep({
  id: 'finalize',
  final: true,
  fields: {},
  values: () => ({}),
  async view (ctx) {
    const lines = ctx.registry.steps.flatMap(step => step.summary?.(ctx) ?? [])
    // "Download these answers" (issue 16): the variables its placeholders name, shown beside the link.
    return { summary: [...lines, { key: 'setup.finalize.summary.envFile', value: ctx.config.envFile }], answersVariables: exportAnswers(ctx.registry, ctx).variables }
  },
  async submit (_input, ctx) {
    const refusal = installRefusal(ctx)
    return refusal ? { errors: { _form: refusal } } : {}
  },
  actions: {
    // Every step answered: the router streams the install page (or follows the install already running).
    async install (input, ctx): Promise<ActionOutcome> {
      // Another tab or session already installing: follow it, whatever this session answered.
      if (ctx.installing) return { install: true }
      const check = await finalizeStep.submit(input, ctx)
      return check.errors ? check : { install: true }
    }
  },
  stages: [{
    id: 'env',
    // The configuration comes first: the later stages (and a restart after a crash) read it.
    before: 'migrate',
    async run (ctx) {
      const how = await ctx.writeEnv(await envEntries(ctx))
      ctx.log.info({ envFile: ctx.config.envFile, how }, 'configuration written')
      return { key: how === 'written' ? 'setup.finalize.stages.envWritten' : 'setup.finalize.stages.envPlaced', params: { file: ctx.config.envFile } }
    }
  }, {
    // The lock comes last: until it is written, a restart reopens the wizard.
    id: 'lock',
    async run (ctx) {
      const installedAt = new Date().toISOString()
      // The lock is kept in the database too: where the database comes from the environment, a disk
      // that does not survive a deploy (and the .env on it) cannot reopen the wizard (see app.ts).
      const db = await ctx.db()
      await db.setting.upsert({ where: { key: INSTALL_LOCK_SETTING }, create: { key: INSTALL_LOCK_SETTING, value: installedAt }, update: { value: installedAt } })
      await keepAnswers(ctx)
      await ctx.writeEnv(await envEntries(ctx, { installedAt }))
      return { key: 'setup.finalize.stages.locked' }
    }
  }, {
    id: 'switch',
    async run (ctx) {
      await ctx.switchToNormal()
      return { key: 'setup.finalize.stages.switched' }
    }
  }],
  async replay ({ page: p, t, fail, progress }) {
    await p.getByRole('button', { name: t('setup.finalize.install'), exact: true }).click()
    const done = p.getByRole('link', { name: t('setup.finalize.login'), exact: true })
    const failed = p.locator('.install-failed')
    // The stages stream in: each new line (a migration applied, rows restored, a stage done) is reported. One
    // look at the page per change (the lines and whether the outcome came), not a query for each.
    let reported = 0
    const deadline = Date.now() + 300_000
    for (;;) {
      // Until a new line or the outcome comes in (a wait that outlives the navigation the click started).
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('the install did not finish in 5 minutes')
      await p.waitForFunction(n => document.querySelectorAll('ol.stages > li').length > n || document.querySelector('.install-result') !== null, reported, { timeout: left })
      const seen = await p.evaluate(() => ({
        lines: Array.from(document.querySelectorAll('ol.stages > li'), li => ({
          stage: li.querySelector('.stage-name')?.textContent ?? '',
          status: li.getAttribute('data-status') ?? '',
          text: li.querySelector('.stage-detail')?.textContent ?? li.querySelector('.stage-status')?.textContent ?? ''
        })),
        ended: document.querySelector('.install-result') !== null,
        failed: document.querySelector('.install-failed') !== null
      }))
      for (const line of seen.lines.slice(reported)) progress(line)
      reported = Math.max(reported, seen.lines.length)
      if (!seen.ended) continue
      if (seen.failed) fail((await failed.locator('.error').allInnerTexts()).join('\n').trim() || (await failed.innerText()).trim())
      break
    }
    await done.click()
  }
})
