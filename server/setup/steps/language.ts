// Step 1: the wizard's language (and the installed app's default language).
import { LANGUAGES, isLanguage } from '../../i18n.ts'
import type { Step } from '../wizard.ts'

export const languageStep: Step = {
  id: 'language',
  values: ctx => ({ language: ctx.data.language ?? ctx.lang }),
  async view () { return { languages: LANGUAGES } },
  async submit (input, ctx) {
    if (!isLanguage(input.language)) return { errors: { language: { key: 'setup.language.errors.choose' } } }
    ctx.data.language = input.language
    return {}
  }
}
