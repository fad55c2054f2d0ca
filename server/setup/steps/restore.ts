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
import type { AppDefinition } from '../../definition.ts'
import { defineStep, type ActionOutcome, type StepContext, type WizardData } from '../step.ts'
import { removeRestoredUpload, restoreFailure, restoreStage } from '../../backup/install.ts'

export const RESTORE_MODES = ['fresh', 'upload', 'path'] as const
export type RestoreMode = typeof RESTORE_MODES[number]

/** The verified backup the wizard will restore (confirmed) or offers to (not yet confirmed). */
export interface RestoreChoice { mode: 'upload' | 'path', file: string, summary: BackupSummary, confirmed: boolean }

/** The database engine the backup will be restored into (the database step's answer). */
export function targetProvider (data: WizardData): Provider {
  return (data.answers.database?.provider ?? 'sqlite') as Provider
}

/** Verifies a backup for this wizard; the error is a field error with a localized key. */
export async function verifyForWizard (file: string, data: WizardData, app: Pick<AppDefinition, 'schema' | 'admin'>, env: NodeJS.ProcessEnv = process.env): Promise<{ summary?: BackupSummary, error?: { key: string, params?: Record<string, unknown> } }> {
  try {
    return { summary: await verifyBackup(file, { provider: targetProvider(data), limits: backupLimits(env), schema: app.schema, admin: app.admin }) }
  } catch (error) {
    if (error instanceof BackupError) return { error: error.i18n }
    // Not one of the refusals the format names: no driver or system text reaches the page.
    return { error: { key: 'setup.restore.errors.unreadable' } }
  }
}

function pending (data: WizardData): RestoreChoice | undefined {
  const restore = data.answers.restore
  return restore && restore.mode !== 'fresh' ? restore : undefined
}

async function verifyPath (input: Record<string, string>, ctx: StepContext): Promise<ActionOutcome> {
  const raw = (input.path ?? '').trim()
  if (raw === '') return { errors: { path: { key: 'setup.restore.errors.pathRequired' } } }
  // A relative path is taken from DATA_DIR, where an administrator would copy a backup.
  const file = path.resolve(ctx.config.dataDir, raw)
  const { summary, error } = await verifyForWizard(file, ctx.data, ctx.definition)
  if (error) return { errors: { path: error } }
  await dropUpload(ctx)
  ctx.data.answers.restore = { mode: 'path', file, summary: summary!, confirmed: false }
  return { view: { justVerified: true } }
}

const text = (maxLength: number) => ({ type: 'string', maxLength })

export const restoreStep = defineStep({
  id: 'restore',
  fields: { mode: { schema: text(16) }, path: { schema: text(4096) }, confirm: { schema: text(16) } },
  values: ctx => {
    const restore = ctx.data.answers.restore
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
      ctx.data.answers.restore = { mode: 'fresh' }
      return {}
    }
    const candidate = pending(ctx.data)
    if (input.confirm === '1' && candidate && candidate.mode === mode) {
      // The file must still be there; it is verified again, row by row, while it is restored.
      if (!(await stat(candidate.file).then(s => s.isFile(), () => false))) {
        ctx.data.answers.restore = undefined
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
      ctx.data.answers.restore = undefined
      ctx.data.done = ctx.data.done.filter(id => id !== 'restore')
      return {}
    }
  },
  summary (ctx) {
    const r = ctx.data.answers.restore
    return [{
      key: 'setup.finalize.summary.restore',
      value: r && r.mode !== 'fresh'
        ? ctx.t('setup.restore.summaryLine', { rows: r.summary.totalRows, engine: ctx.t(`setup.restore.engines.${r.summary.sourceProvider}`), date: r.summary.createdAt.slice(0, 10) })
        : ctx.t('setup.restore.modes.fresh')
    }]
  },
  unattended: () => ({ mode: 'fresh' }),
  stages: [{
    id: 'restore',
    async run (ctx) {
      try {
        return await restoreStage(ctx.data, message => ctx.progress(message), ctx.definition)
      } catch (err) {
        ctx.log.warn({ err: { code: (err as { code?: string }).code, message: ctx.scrub((err as Error).message ?? String(err)) } }, 'restore failed')
        ctx.fail(restoreFailure(err), err)
      }
    }
  }],
  // Installed: an uploaded backup (password hashes) has done its work.
  async installed (ctx) { await removeRestoredUpload(ctx.data, ctx.config.dataDir).catch(() => {}) },
  // A dry run ended (or a session replaced): the upload it made is deleted; a backup given by its server path stays.
  async discard (ctx) { await removeRestoredUpload(ctx.data, ctx.config.dataDir).catch(() => {}) },
  answers: {
    "description": "null (or absent): start fresh. { \"file\": \u2026 }: upload that backup (a path on the machine running the replay, relative to its working directory), as a person does. { \"path\": \u2026 }: a backup already on the server (relative to the server's DATA_DIR).",
    "oneOf": [
      {
        "type": "null"
      },
      {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "file"
        ],
        "properties": {
          "file": {
            "type": "string",
            "minLength": 1,
            "maxLength": 4096
          }
        }
      },
      {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "path"
        ],
        "properties": {
          "path": {
            "type": "string",
            "minLength": 1,
            "maxLength": 4096
          }
        }
      }
    ]
  },
  // An uploaded backup is gone once restored, and was on the person's machine: its file is a variable to give.
  toAnswers: (ctx, variable, place) => {
    const restore = ctx.data.answers.restore
    if (!restore || restore.mode === 'fresh') return null
    return restore.mode === 'path' ? { path: place(restore.file) } : { file: variable('BACKUP_FILE') }
  },
  // A backup is uploaded or verified then confirmed through the page: without the browser, a fresh start only.
  fromAnswers: restore => restore === null || restore === undefined ? { mode: 'fresh' } : undefined,
  async replay ({ page: p, answer: restore, t, next, expectNext, pageError, fail }) {
    if (!restore) {
      await p.getByRole('radio', { name: t('setup.restore.modes.fresh') }).check()
    } else {
      // The server verifies the whole backup before it shows what it holds: allow for a big one.
      const verified = { timeout: 600_000 }
      const summary = p.locator('.restore-summary')
      if ('file' in restore) {
        // As a person does: choose "Upload", then the file; the page's script uploads it and opens the confirmation.
        await p.getByRole('radio', { name: t('setup.restore.modes.upload') }).check()
        await p.getByLabel(t('setup.restore.upload'), { exact: true }).setInputFiles(path.resolve(restore.file))
        const refused = p.locator('[data-upload-status].error')
        await summary.or(refused).first().waitFor(verified)
        if (await refused.count() > 0) fail((await refused.innerText()).trim())
      } else {
        await p.getByRole('radio', { name: t('setup.restore.modes.path') }).check()
        await p.getByLabel(t('setup.restore.path'), { exact: true }).fill(restore.path)
        await p.getByRole('button', { name: t('setup.restore.verify'), exact: true }).click(verified)
        await p.waitForLoadState('domcontentloaded')
        if (await summary.count() === 0) fail(await pageError() ?? 'the server did not accept the backup')
      }
    }
    await next()
    await expectNext()
  }
})

/** The session's uploaded file, if any, is deleted: it holds password hashes and is no longer wanted. */
async function dropUpload (ctx: StepContext): Promise<void> {
  const restore = ctx.data.answers.restore
  if (restore && restore.mode === 'upload') await removeUpload(ctx.config.dataDir, restore.file)
}

function formatDate (iso: string, lang: string): string {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso)) + ' UTC'
}
