// Step 6: the first administrator. The password is checked for strength, hashed at once (argon2id)
// and only the hash is kept in the wizard's session. After a backup restore, the restored
// administrator accounts can be kept instead (they sign in with their old passwords).
import { checkPasswordStrength, hashPassword, MAX_PASSWORD_LENGTH, preparePasswordCheck, releasePasswordCheck } from '../../auth/password.ts'
import { defineStep, type Errors, type WizardData } from '../step.ts'
import { createClient } from '../../db/client.ts'
import { recordInstallWithRestoredAdmins } from '../../backup/install.ts'
import type { AdminStore, AmorceDb, AppSchema } from '../../definition.ts'

export const USERNAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}._-]{2,31}$/u
export const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/u
export const ACCOUNT_CHOICES = ['keep', 'new'] as const

/** The administrator accounts the confirmed backup will restore (all of them, for the conflict check). */
export function restoredAccounts (data: WizardData): Array<{ username: string, email: string }> {
  const restore = data.answers.restore
  if (!restore || restore.mode === 'fresh' || !restore.confirmed) return []
  return restore.summary.accounts ?? restore.summary.admins.map(username => ({ username, email: '' }))
}

/** Usernames of the administrators the confirmed backup will restore; empty without a restore. */
export function restoredAdmins (data: WizardData): string[] {
  const restore = data.answers.restore
  return restore && restore.mode !== 'fresh' && restore.confirmed ? restore.summary.admins : []
}

const text = (maxLength: number) => ({ type: 'string', maxLength })

export const adminStep = defineStep({
  id: 'admin',
  fields: {
    accounts: { schema: text(16) },
    username: { schema: text(4096) },
    email: { schema: text(4096) },
    password: { schema: text(4096), secret: true },
    confirm: { schema: text(4096), secret: true }
  },
  values: ctx => ({
    accounts: ctx.data.answers.admin?.keepRestored || (ctx.data.answers.admin === undefined && restoredAdmins(ctx.data).length > 0) ? 'keep' : 'new',
    username: ctx.data.answers.admin?.username || 'admin',
    email: ctx.data.answers.admin?.email ?? ''
  }),
  async view (ctx) {
    // The strength checker's dictionaries load (in a worker) while the password is being typed.
    preparePasswordCheck()
    const pending = Boolean(ctx.data.kept.admin?.passwordHash)
    return { hasPassword: pending || Boolean(ctx.data.answers.admin?.passwordHash), passwordPending: pending, restoredAdmins: restoredAdmins(ctx.data), accountChoices: ACCOUNT_CHOICES }
  },
  async submit (input, ctx) {
    const restored = restoredAdmins(ctx.data)
    if (restored.length > 0) {
      if (!(ACCOUNT_CHOICES as readonly string[]).includes(input.accounts)) return { errors: { accounts: { key: 'setup.admin.errors.accounts' } } }
      if (input.accounts === 'keep') {
        ctx.data.answers.admin = { username: '', email: '', passwordHash: '', keepRestored: true }
        delete ctx.data.kept.admin
        void releasePasswordCheck()
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
    const kept = ctx.data.kept.admin?.passwordHash ?? ctx.data.answers.admin?.passwordHash
    const keepPrevious = password === '' && confirm === '' && Boolean(kept)
    let accepted = false
    if (!keepPrevious) {
      if (password === '') {
        errors.password = { key: 'setup.admin.errors.passwordRequired' }
      } else {
        const verdict = await checkPasswordStrength(password.slice(0, MAX_PASSWORD_LENGTH + 1), [username, email])
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
      if (accepted) ctx.data.kept.admin = { passwordHash: await hashPassword(password) }
      return { errors }
    }

    // The password is accepted: the strength checker's dictionaries (some 70 MB, in a worker) are given back
    // now rather than after their idle time; coming back to this page loads them again.
    void releasePasswordCheck()
    const passwordHash = keepPrevious ? kept! : await hashPassword(password)
    ctx.data.answers.admin = { username, email, passwordHash }
    delete ctx.data.kept.admin
    return {}
  },
  summary (ctx) {
    const a = ctx.data.answers.admin
    return [{ key: 'setup.finalize.summary.admin', value: a?.keepRestored ? ctx.t('setup.admin.accountChoices.keep') : a ? `${a.username} <${a.email}>` : '' }]
  },
  preset: {
    env: ['ADMIN_USERNAME', 'ADMIN_EMAIL', 'ADMIN_PASSWORD'],
    input (env) {
      const admin = { username: env.ADMIN_USERNAME?.trim(), email: env.ADMIN_EMAIL?.trim(), password: env.ADMIN_PASSWORD }
      if (!admin.username || !admin.email || !admin.password) return undefined
      return { username: admin.username, email: admin.email, password: admin.password, confirm: admin.password }
    }
  },
  stages: [{
    id: 'admin',
    async run (ctx) {
      const { database, cache, admin } = ctx.answers
      const detail = { provider: database!.provider, cache: cache?.backend ?? '' }
      if (admin!.keepRestored) return recordInstallWithRestoredAdmins(ctx.data, detail, ctx.definition)
      // The install's own client (shared by its stages), not one more.
      const outcome = await createWizardAdmin(database!.provider, database!.url, admin!, ctx.values.appLocale ?? 'en', detail, ctx.definition, await ctx.db())
      if (!outcome.created) {
        ctx.log.warn({ kept: outcome.username }, 'an administrator was already created by an earlier install: kept')
        return { key: 'setup.finalize.stages.adminKept', params: { username: outcome.username } }
      }
      return { key: 'setup.finalize.stages.adminCreated', params: { username: admin!.username } }
    }
  }],
  answers: {
    "type": "object",
    "additionalProperties": false,
    "required": [
      "username",
      "password"
    ],
    "if": {
      "required": [
        "keepRestored"
      ],
      "properties": {
        "keepRestored": {
          "const": true
        }
      }
    },
    "then": {
      "description": "Keeping the restored accounts: username and password are those of a restored account, used to sign in."
    },
    "else": {
      "required": [
        "email"
      ]
    },
    "properties": {
      "keepRestored": {
        "type": "boolean",
        "description": "true: keep the administrator accounts of the restored backup instead of adding one (needs a restore); username and password then sign in with a restored account."
      },
      "username": {
        "type": "string",
        "minLength": 3,
        "maxLength": 32
      },
      "email": {
        "type": "string",
        "minLength": 3,
        "maxLength": 254
      },
      "password": {
        "type": "string",
        "minLength": 1,
        "maxLength": 256,
        "description": "Use \"${ADMIN_PASSWORD}\" to read it from the environment."
      }
    }
  },
  answersRequired: true,
  fromAnswers: (admin): Record<string, string> => admin.keepRestored
    ? { accounts: 'keep' }
    : { accounts: 'new', username: admin.username, email: admin.email ?? '', password: admin.password, confirm: admin.password },
  // Keeping restored accounts: the replay signs in with one of them, named at replay time.
  toAnswers: (ctx, variable) => {
    const admin = ctx.data.answers.admin
    if (!admin) return undefined
    return admin.keepRestored
      ? { keepRestored: true, username: variable('ADMIN_USERNAME'), password: variable('ADMIN_PASSWORD') }
      : { username: admin.username, email: admin.email, password: variable('ADMIN_PASSWORD') }
  },
  async replay ({ page: p, answer: admin, t, next, expectNext, fail }) {
    const choice = (value: 'keep' | 'new') => p.getByRole('radio', { name: t(`setup.admin.accountChoices.${value}`) })
    if (admin.keepRestored) {
      if (await choice('keep').count() === 0) fail('the wizard offers no restored administrator accounts to keep')
      await choice('keep').check()
    } else {
      // After a restore the page first asks whether to keep the restored accounts.
      if (await choice('new').count() > 0) await choice('new').check()
      await p.getByLabel(t('setup.admin.username'), { exact: true }).fill(admin.username)
      await p.getByLabel(t('setup.admin.email'), { exact: true }).fill(admin.email ?? '')
      await p.getByLabel(t('setup.admin.password'), { exact: true }).fill(admin.password)
      await p.getByLabel(t('setup.admin.confirm'), { exact: true }).fill(admin.password)
    }
    await next()
    await expectNext()
  }
})

/** The row that says which administrator the wizard created; its primary key is the guard. */
export const ADMIN_CLAIM_KEY = 'wizard:admin'

/**
 * Creates the wizard's administrator at most once per database, through the app's AdminStore. The claim row,
 * the account and the audit row are written in one transaction, claim first; the claim's primary key makes a
 * concurrent second install (another tab, another process, another username) fail and roll back, after which
 * it sees the first one's claim and keeps that administrator. Resuming with the same username updates the
 * same row (the store's create is an upsert by username).
 */
export async function createWizardAdmin (
  provider: NonNullable<WizardData['answers']['database']>['provider'],
  url: string,
  admin: NonNullable<WizardData['answers']['admin']>,
  locale: string,
  detail: Record<string, string>,
  app: { schema: Pick<AppSchema, 'client'>, admin: AdminStore<any> },
  /** a client of the app's over `url` already open (the install's); else one is opened, and closed after */
  client?: unknown
): Promise<{ created: boolean, username: string }> {
  // The app's own client (its users table is where its store writes), not the reference app's.
  const store = app.admin
  type Db = Pick<AmorceDb, 'setting' | '$disconnect'> & { $transaction<T>(fn: (tx: any) => Promise<T>): Promise<T> }
  const db = client as Db | undefined ?? await createClient<Db>(app.schema, provider, url)
  const account = { username: admin.username, email: admin.email, passwordHash: admin.passwordHash, locale }
  // Without the claim, this resumes an install whose claim, account and audit row were written together:
  // the account is updated, the install is not recorded twice.
  const write = (claim: boolean) => db.$transaction(async tx => {
    if (claim) await tx.setting.create({ data: { key: ADMIN_CLAIM_KEY, value: admin.username } })
    await store.create(tx, account)
    if (claim) await tx.auditLog.create({ data: { event: 'install.completed', detail: JSON.stringify(detail) } })
  })
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await write(true)
        return { created: true, username: admin.username }
      } catch (err) {
        // The claim exists (an earlier run, or a racing one that won): it decides.
        const claim = await db.setting.findUnique({ where: { key: ADMIN_CLAIM_KEY } }).catch(() => null)
        if (claim?.value === admin.username) {
          await write(false) // resuming the same install: the same account, updated
          return { created: true, username: admin.username }
        }
        if (claim) return { created: false, username: claim.value }
        // No claim: the write failed for another reason (busy, connection); a few tries, then the error.
        if (attempt >= 5) throw err
        await new Promise(resolve => setTimeout(resolve, 100 * attempt))
      }
    }
  } finally {
    if (!client) await db.$disconnect()
  }
}
