// Step 6: the first administrator. The password is checked for strength, hashed at once (argon2id)
// and only the hash is kept in the wizard's session. After a backup restore, the restored
// administrator accounts can be kept instead (they sign in with their old passwords).
import { checkPasswordStrength, hashPassword, MAX_PASSWORD_LENGTH, preparePasswordCheck } from '../../auth/password.ts'
import type { Errors, Step, WizardData } from '../wizard.ts'

export const USERNAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}._-]{2,31}$/u
export const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/u
export const ACCOUNT_CHOICES = ['keep', 'new'] as const

/** The administrator accounts the confirmed backup will restore (all of them, for the conflict check). */
export function restoredAccounts (data: WizardData): Array<{ username: string, email: string }> {
  const restore = data.restore
  if (!restore || restore.mode === 'fresh' || !restore.confirmed) return []
  return restore.summary.accounts ?? restore.summary.admins.map(username => ({ username, email: '' }))
}

/** Usernames of the administrators the confirmed backup will restore; empty without a restore. */
export function restoredAdmins (data: WizardData): string[] {
  const restore = data.restore
  return restore && restore.mode !== 'fresh' && restore.confirmed ? restore.summary.admins : []
}

export const adminStep: Step = {
  id: 'admin',
  secretFields: ['password', 'confirm'],
  values: ctx => ({
    accounts: ctx.data.admin?.keepRestored || (ctx.data.admin === undefined && restoredAdmins(ctx.data).length > 0) ? 'keep' : 'new',
    username: ctx.data.admin?.username || 'admin',
    email: ctx.data.admin?.email ?? ''
  }),
  async view (ctx) {
    // The strength checker's dictionaries load (in a worker) while the password is being typed.
    preparePasswordCheck()
    const pending = Boolean(ctx.data.adminPasswordHash)
    return { hasPassword: pending || Boolean(ctx.data.admin?.passwordHash), passwordPending: pending, restoredAdmins: restoredAdmins(ctx.data), accountChoices: ACCOUNT_CHOICES }
  },
  async submit (input, ctx) {
    const restored = restoredAdmins(ctx.data)
    if (restored.length > 0) {
      if (!(ACCOUNT_CHOICES as readonly string[]).includes(input.accounts)) return { errors: { accounts: { key: 'setup.admin.errors.accounts' } } }
      if (input.accounts === 'keep') {
        ctx.data.admin = { username: '', email: '', passwordHash: '', keepRestored: true }
        delete ctx.data.adminPasswordHash
        return {}
      }
    }
    const username = (input.username ?? '').trim().normalize('NFC')
    const email = (input.email ?? '').trim().normalize('NFC')
    const password = input.password ?? ''
    const confirm = input.confirm ?? ''
    const errors: Errors = {}

    if (!USERNAME_PATTERN.test(username)) errors.username = { key: 'setup.admin.errors.username' }
    if (email.length > 254 || !EMAIL_PATTERN.test(email)) errors.email = { key: 'setup.admin.errors.email' }
    // A new administrator beside restored ones: both columns are unique, and silently taking over a restored
    // account would be a surprise. Compared without case, as MySQL's collation does.
    const same = (a: string, b: string) => a.localeCompare(b, undefined, { sensitivity: 'accent' }) === 0
    const accounts = restoredAccounts(ctx.data)
    if (!errors.username && accounts.some(a => same(a.username, username))) errors.username = { key: 'setup.admin.errors.usernameRestored', params: { username } }
    if (!errors.email && accounts.some(a => a.email !== '' && same(a.email, email))) errors.email = { key: 'setup.admin.errors.emailRestored', params: { email } }

    // Blank password fields keep the password accepted before: by an earlier Next, or by a submit that failed
    // on another field (only its hash is kept, server-side; the page never shows it again).
    const kept = ctx.data.adminPasswordHash ?? ctx.data.admin?.passwordHash
    const keepPrevious = password === '' && confirm === '' && Boolean(kept)
    let accepted = false
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
        } else {
          accepted = true
        }
      }
    }
    if (Object.keys(errors).length > 0) {
      if (accepted) ctx.data.adminPasswordHash = await hashPassword(password)
      return { errors }
    }

    const passwordHash = keepPrevious ? kept! : await hashPassword(password)
    ctx.data.admin = { username, email, passwordHash }
    delete ctx.data.adminPasswordHash
    return {}
  }
}
