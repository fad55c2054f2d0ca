// Notes' own wizard step, "Site": the site's name and time zone, validated here, stored in the settings table by
// its install stage, shown in the summary, preset by SITE_NAME / SITE_TIMEZONE, filled by the replay. The whole
// step is this module, views/setup/site.eta and locales/{en,fr}/setup/site.json, plus its line in amorce.ts.
import { defineStep } from 'amorce'

/** The settings rows the stage writes and the normal mode reads. */
export const SITE_SETTINGS = { name: 'site.name', timezone: 'site.timezone' } as const
export const SITE_NAME_MAX = 80

export interface SiteAnswer { name: string, timezone: string }

/** An IANA time zone as the runtime knows it, in its canonical spelling (europe/paris → Europe/Paris); else undefined. */
export function canonicalTimeZone (value: string): string | undefined {
  // Offsets (+02:00) and abbreviations (CET) are not zones: only Area/Location names and UTC.
  if (!/^(UTC|[A-Za-z]+(\/[A-Za-z0-9_+-]+)+)$/.test(value)) return undefined
  try {
    return new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

const text = (maxLength: number) => ({ type: 'string', maxLength })

export const siteStep = defineStep({
  id: 'site',
  fields: { name: { schema: text(200) }, timezone: { schema: text(64) } },
  values: ctx => {
    const answer = ctx.data.answers.site as SiteAnswer | undefined
    return { name: answer?.name ?? ctx.definition.name, timezone: answer?.timezone ?? (canonicalTimeZone(Intl.DateTimeFormat().resolvedOptions().timeZone) ?? 'UTC') }
  },
  async view () {
    return { zones: Intl.supportedValuesOf('timeZone'), nameMax: SITE_NAME_MAX }
  },
  async submit (input, ctx) {
    const name = (input.name ?? '').trim().normalize('NFC')
    const timezone = canonicalTimeZone((input.timezone ?? '').trim())
    const errors: Record<string, { key: string, params?: Record<string, unknown> }> = {}
    if (name === '') errors.name = { key: 'setup.site.errors.nameRequired' }
    else if ([...name].length > SITE_NAME_MAX) errors.name = { key: 'setup.site.errors.nameTooLong', params: { max: SITE_NAME_MAX } }
    if (timezone === undefined) errors.timezone = { key: 'setup.site.errors.timezone', params: { value: (input.timezone ?? '').trim().slice(0, 64) } }
    if (Object.keys(errors).length > 0) return { errors }
    ctx.data.answers.site = { name, timezone: timezone! } satisfies SiteAnswer
    return {}
  },
  summary: ctx => {
    const site = ctx.data.answers.site as SiteAnswer | undefined
    return [
      { key: 'setup.site.summary.name', value: site?.name ?? '' },
      { key: 'setup.site.summary.timezone', value: site?.timezone ?? '' }
    ]
  },
  preset: {
    env: ['SITE_NAME', 'SITE_TIMEZONE'],
    input: env => env.SITE_NAME?.trim() ? { name: env.SITE_NAME, timezone: env.SITE_TIMEZONE?.trim() || 'UTC' } : undefined
  },
  unattended: ctx => ({ name: ctx.definition.name, timezone: 'UTC' }),
  stages: [{
    id: 'site',
    label: 'setup.site.stage.name',
    error: 'setup.site.stage.error',
    async run (ctx) {
      const site = ctx.answers.site as SiteAnswer
      const db = await ctx.db()
      // Upserts: a resumed install runs the stage again.
      for (const [field, key] of Object.entries(SITE_SETTINGS) as Array<[keyof SiteAnswer, string]>) {
        await db.setting.upsert({ where: { key }, create: { key, value: site[field] }, update: { value: site[field] } })
      }
      return { key: 'setup.site.stage.done', params: { name: site.name, timezone: site.timezone } }
    }
  }],
  answers: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'timezone'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: SITE_NAME_MAX, description: "The site's name, shown in its pages." },
      timezone: { type: 'string', minLength: 3, maxLength: 64, description: 'An IANA time zone, e.g. Europe/Paris or UTC.' }
    }
  },
  async replay ({ page, answer, t, next, expectNext }) {
    if (answer) {
      await page.getByLabel(t('setup.site.name')).fill(answer.name)
      await page.getByLabel(t('setup.site.timezone')).fill(answer.timezone)
    }
    await next()
    await expectNext()
  }
})
