// Step 6: the first administrator. The password is checked for strength, hashed at once (argon2id)
// and only the hash is kept in the wizard's session.
import { checkPasswordStrength, hashPassword, MAX_PASSWORD_LENGTH } from '../../auth/password.ts'
import type { Errors, Step } from '../wizard.ts'

export const USERNAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}._-]{2,31}$/u
export const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/u

export const adminStep: Step = {
  id: 'admin',
  secretFields: ['password', 'confirm'],
  values: ctx => ({ username: ctx.data.admin?.username ?? 'admin', email: ctx.data.admin?.email ?? '' }),
  async view (ctx) { return { hasPassword: Boolean(ctx.data.admin?.passwordHash) } },
  async submit (input, ctx) {
    const username = (input.username ?? '').trim().normalize('NFC')
    const email = (input.email ?? '').trim().normalize('NFC')
    const password = input.password ?? ''
    const confirm = input.confirm ?? ''
    const errors: Errors = {}

    if (!USERNAME_PATTERN.test(username)) errors.username = { key: 'setup.admin.errors.username' }
    if (email.length > 254 || !EMAIL_PATTERN.test(email)) errors.email = { key: 'setup.admin.errors.email' }

    const keepPrevious = password === '' && confirm === '' && ctx.data.admin?.passwordHash
    if (!keepPrevious) {
      if (password === '') {
        errors.password = { key: 'setup.admin.errors.passwordRequired' }
      } else {
        const verdict = checkPasswordStrength(password.slice(0, MAX_PASSWORD_LENGTH + 1), [username, email])
        if (!verdict.ok) {
          errors.password = verdict.reasons[0]
          if (verdict.reasons.length > 1) errors.passwordAdvice = verdict.reasons[1]
        } else if (password !== confirm) {
          errors.confirm = { key: 'setup.admin.errors.confirm' }
        }
      }
    }
    if (Object.keys(errors).length > 0) return { errors }

    const passwordHash = keepPrevious ? ctx.data.admin!.passwordHash : await hashPassword(password)
    ctx.data.admin = { username, email, passwordHash }
    return {}
  }
}
