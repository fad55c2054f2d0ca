// Filesystem paths typed in the wizard (the SQLite file, the cache directory): the checks they share
// before a test may say yes, and system error codes as words in the reader's language.
import type { TFunction } from 'i18next'
import { serializeEnvValue } from '../config/envfile.ts'

/** Line breaks and other control characters: no path typed in a form should hold them. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/** Whether the `.env` writer can store this value so that it reads back exactly (the same rule as at install). */
export function envStorable (value: string, key: string): boolean {
  try {
    serializeEnvValue(value, key)
    return true
  } catch {
    return false
  }
}

/** A filesystem error code (EACCES, ENOTDIR…) as a localized phrase, never a bare "(EEXIST)". */
export function fsErrorText (code: string | undefined, t: TFunction): string {
  const known = code && /^E[A-Z]+$/.test(code) ? t(`setup.fsErrors.${code}`, { defaultValue: '' }) : ''
  return known || t('setup.fsErrors.other', { code: code ?? '?' })
}
