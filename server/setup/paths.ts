// Filesystem paths typed in the wizard (the SQLite file, the cache directory): the checks they share
// before a test may say yes.
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
