// Step 7: the summary of every answer (no secrets) before "Install". The install itself is the
// journaled apply in ../finalize.ts, started by the route.
import { STEPS, type Step } from '../wizard.ts'
import { databaseSummary } from './database.ts'
import { shownRedisUrl } from './cache.ts'

export const finalizeStep: Step = {
  id: 'finalize',
  values: () => ({}),
  async view (ctx) {
    const d = ctx.data
    return {
      summary: [
        { key: 'setup.finalize.summary.language', value: d.language === 'fr' ? 'Français' : 'English' },
        { key: 'setup.finalize.summary.database', value: d.database ? databaseSummary(d.database, ctx.t) : '' },
        { key: 'setup.finalize.summary.cache', value: d.cache ? ctx.t(`setup.cache.backends.${d.cache.backend}`) + (d.cache.dir ? ` — ${d.cache.dir}` : '') + (d.cache.backend === 'redis' ? ` — ${shownRedisUrl(d.cache)}` : '') : '' },
        { key: 'setup.finalize.summary.restore', value: d.restore && d.restore.mode !== 'fresh' ? ctx.t('setup.restore.summaryLine', { rows: d.restore.summary.totalRows, engine: ctx.t(`setup.restore.engines.${d.restore.summary.sourceProvider}`), date: d.restore.summary.createdAt.slice(0, 10) }) : ctx.t('setup.restore.modes.fresh') },
        { key: 'setup.finalize.summary.admin', value: d.admin?.keepRestored ? ctx.t('setup.admin.accountChoices.keep') : d.admin ? `${d.admin.username} <${d.admin.email}>` : '' },
        { key: 'setup.finalize.summary.envFile', value: ctx.config.envFile }
      ]
    }
  },
  async submit (_input, ctx) {
    const missing = STEPS.filter(s => s.id !== 'finalize' && !ctx.data.done.includes(s.id))
    if (missing.length > 0) return { errors: { _form: { key: 'setup.finalize.errors.incomplete', params: { step: ctx.t(`setup.${missing[0].id}.title`) } } } }
    return {}
  }
}
