// Step 1: the wizard's language (and the installed app's default language).
import { LANGUAGES, type Language } from '../../i18n.ts'
import { defineStep } from '../step.ts'

export const languageStep = defineStep({
  id: 'language',
  fields: { language: { schema: { type: 'string', maxLength: 16 } } },
  values: ctx => ({ language: ctx.data.answers.language ?? ctx.lang }),
  // The languages the app offers (its `languages` option), not only Amorce's own.
  async view (ctx) { return { languages: ctx.definition.languages } },
  async submit (input, ctx) {
    if (!ctx.definition.languages.includes(input.language)) return { errors: { language: { key: 'setup.language.errors.choose' } } }
    const language = input.language as Language
    ctx.data.answers.language = language
    // The wizard goes on in the language chosen.
    return { uiLanguage: language }
  },
  summary: ctx => [{ key: 'setup.finalize.summary.language', value: ctx.t(`common.language.${ctx.data.answers.language ?? ctx.lang}`) }],
  preset: {
    env: ['APP_LOCALE'],
    input: (_env, config) => config.fromEnvironment.includes('APP_LOCALE') && config.values.appLocale ? { language: config.values.appLocale } : undefined
  },
  unattended: ctx => ({ language: ctx.lang }),
  fromAnswers: language => ({ language: String(language) }),
  toAnswers: ctx => ctx.data.answers.language,
  answers: { enum: [...LANGUAGES], description: "The wizard's and the installed app's language." },
  answersRequired: true,
  async replay ({ page, answer, t, next, expectNext }) {
    await page.getByRole('radio', { name: t(`common.language.${answer}`) }).check()
    await next()
    await expectNext()
  }
})
