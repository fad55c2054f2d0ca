// Step 5: start fresh, or restore a backup of an earlier install, uploaded (with JavaScript, see
// server/app/backup-routes.ts) or already on the server (a path). The backup is verified completely before it
// is offered, then the person confirms what will be restored (tables, rows, source engine, date).
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { BackupError } from '../../backup/errors.ts'
import { backupLimits, type BackupSummary } from '../../backup/format.ts'
import { removeUpload } from '../../backup/uploads.ts'
import { verifyBackup } from '../../backup/verify.ts'
import type { Provider } from '../../db/migrate.ts'
import { referenceAdmins, referenceSchema } from '../../app/schema.ts'
import type { ActionOutcome, StepContext, Step, WizardData } from '../wizard.ts'

export const RESTORE_MODES = ['fresh', 'upload', 'path'] as const
export type RestoreMode = typeof RESTORE_MODES[number]

/** The verified backup the wizard will restore (confirmed) or offers to (not yet confirmed). */
export interface RestoreChoice { mode: 'upload' | 'path', file: string, summary: BackupSummary, confirmed: boolean }

/** The database engine the backup will be restored into (the database step's answer). */
export function targetProvider (data: WizardData): Provider {
  return (data.database?.provider ?? 'sqlite') as Provider
}

/** Verifies a backup for this wizard; the error is a field error with a localized key. */
export async function verifyForWizard (file: string, data: WizardData, env: NodeJS.ProcessEnv = process.env): Promise<{ summary?: BackupSummary, error?: { key: string, params?: Record<string, unknown> } }> {
  try {
    return { summary: await verifyBackup(file, { provider: targetProvider(data), limits: backupLimits(env), schema: referenceSchema, admin: referenceAdmins }) }
  } catch (error) {
    if (error instanceof BackupError) return { error: error.i18n }
    // Not one of the refusals the format names: no driver or system text reaches the page.
    return { error: { key: 'setup.restore.errors.unreadable' } }
  }
}

function pending (data: WizardData): RestoreChoice | undefined {
  const restore = data.restore
  return restore && restore.mode !== 'fresh' ? restore : undefined
}

async function verifyPath (input: Record<string, string>, ctx: StepContext): Promise<ActionOutcome> {
  const raw = (input.path ?? '').trim()
  if (raw === '') return { errors: { path: { key: 'setup.restore.errors.pathRequired' } } }
  // A relative path is taken from DATA_DIR, where an administrator would copy a backup.
  const file = path.resolve(ctx.config.dataDir, raw)
  const { summary, error } = await verifyForWizard(file, ctx.data)
  if (error) return { errors: { path: error } }
  await dropUpload(ctx)
  ctx.data.restore = { mode: 'path', file, summary: summary!, confirmed: false }
  return { view: { justVerified: true } }
}

export const restoreStep: Step = {
  id: 'restore',
  values: ctx => {
    const restore = ctx.data.restore
    return { mode: restore?.mode ?? 'fresh', path: restore?.mode === 'path' ? restore.file : '' }
  },
  async view (ctx) {
    const candidate = pending(ctx.data)
    return {
      modes: RESTORE_MODES,
      candidate: candidate ? { ...candidate, createdAtText: formatDate(candidate.summary.createdAt, ctx.lang) } : null,
      provider: targetProvider(ctx.data),
      maxBytes: backupLimits().maxArchiveBytes
    }
  },
  async submit (input, ctx) {
    const mode = input.mode as RestoreMode
    if (!RESTORE_MODES.includes(mode)) return { errors: { mode: { key: 'setup.restore.errors.mode' } } }
    if (mode === 'fresh') {
      await dropUpload(ctx)
      ctx.data.restore = { mode: 'fresh' }
      return {}
    }
    const candidate = pending(ctx.data)
    if (input.confirm === '1' && candidate && candidate.mode === mode) {
      // The file must still be there; it is verified again, row by row, while it is restored.
      if (!(await stat(candidate.file).then(s => s.isFile(), () => false))) {
        ctx.data.restore = undefined
        return { errors: { _form: { key: 'setup.restore.errors.notFound', params: { path: candidate.file } } } }
      }
      candidate.confirmed = true
      return {}
    }
    if (mode === 'upload') return { errors: { mode: { key: 'setup.restore.errors.uploadFirst' } } }
    // "Next" on a path: verify it, then show what it holds and ask for confirmation.
    const outcome = await verifyPath(input, ctx)
    return outcome.errors ? outcome : { errors: { _form: { key: 'setup.restore.confirmFirst' } } }
  },
  actions: {
    verify: verifyPath,
    async discard (_input, ctx) {
      await dropUpload(ctx)
      ctx.data.restore = undefined
      ctx.data.done = ctx.data.done.filter(id => id !== 'restore')
      return {}
    }
  }
}

/** The session's uploaded file, if any, is deleted: it holds password hashes and is no longer wanted. */
async function dropUpload (ctx: StepContext): Promise<void> {
  const restore = ctx.data.restore
  if (restore && restore.mode === 'upload') await removeUpload(ctx.config.dataDir, restore.file)
}

function formatDate (iso: string, lang: string): string {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso)) + ' UTC'
}
