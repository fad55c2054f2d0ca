// The install's side of a restore (called from server/setup/finalize.ts): which migration level to stop the
// first migration at, then the load itself with progress events and the remaining migrations.
import type { AdminStore, AmorceDb, AppSchema } from '../definition.ts'
import { createClient } from '../db/client.ts'
import type { DatabaseProvider as Provider } from '../db/engines/index.ts'
import { migrate } from '../db/migrate.ts'
import { BackupError } from './errors.ts'
import { backupLimits } from './format.ts'
import { completedBefore, loadBackup, readManifest, restoreMarker } from './restore.ts'
import { removeUpload } from './uploads.ts'
import { summarize } from './verify.ts'
import type { WizardData } from '../setup/wizard.ts'

interface Message { key: string, params?: Record<string, unknown> }

/** What the install's restore needs of the app: its schema, and where it keeps its administrators. */
export interface InstallApp { schema: AppSchema, admin: Pick<AdminStore, 'list' | 'table'> }

/** The backup the install restores, when the person confirmed one. */
export function chosenBackup (data: WizardData): { file: string, migration: string, sha256?: string } | undefined {
  const restore = data.answers.restore
  return restore && restore.mode !== 'fresh' && restore.confirmed ? { file: restore.file, migration: restore.summary.migration, sha256: restore.summary.sha256 } : undefined
}

/** The first migration run stops at the backup's level (undefined: migrate everything). */
export function migrationLimit (data: WizardData): string | undefined {
  return chosenBackup(data)?.migration
}

/**
 * Rows about the install that made the backup, not this one: the wizard's admin claim
 * (finalize.ts ADMIN_CLAIM_KEY) and the install lock's database copy (INSTALL_LOCK_SETTING), which
 * must not say "installed" before this install's own lock stage.
 */
const SOURCE_ONLY_SETTINGS = ['wizard:admin', 'install:completedAt']

/**
 * Loads the chosen backup (one transaction) and applies the migrations after its level. `progress` receives
 * at most about a hundred events. Returns the stage's closing message.
 */
export async function restoreStage (data: WizardData, progress: (message: Message) => void, app: InstallApp, env: NodeJS.ProcessEnv = process.env): Promise<Message> {
  const backup = chosenBackup(data)
  if (!backup || !data.answers.database) return { key: 'setup.finalize.stages.restoreSkipped' }
  const provider = data.answers.database.provider as Provider
  const url = data.answers.database.url
  const limits = backupLimits(env)
  // A resumed install whose earlier run committed the rows but died before the journal said so: the marker row,
  // committed with them, says this very backup is already loaded.
  const { manifest } = await readManifest({ file: backup.file, provider, limits, schema: app.schema })
  const marker = restoreMarker(manifest)
  const done = await completedBefore({ provider, url }, manifest, marker)
  let lastPercent = -1
  const summary = done ? summarize(manifest, [], 0) : await loadBackup({
    file: backup.file,
    provider,
    url,
    limits,
    schema: app.schema,
    admin: app.admin,
    marker,
    // The very file that was verified and confirmed: a replaced file is refused before anything commits.
    expectSha256: backup.sha256,
    onProgress: p => {
      const percent = p.rowsTotal === 0 ? 100 : Math.floor(p.rowsDone * 100 / p.rowsTotal)
      if (percent === lastPercent) return
      lastPercent = percent
      progress({ key: 'backup.progress.rows', params: { done: p.rowsDone, total: p.rowsTotal, percent } })
    }
  })
  if (summary.migration !== backup.migration) {
    throw new BackupError('unknownMigration', 'the backup changed since it was verified', { migration: summary.migration })
  }
  const db = await createClient<AmorceDb>(app.schema, provider, url)
  try {
    await db.setting.deleteMany({ where: { key: { in: SOURCE_ONLY_SETTINGS } } })
  } finally {
    await db.$disconnect()
  }
  const rest = await migrate({
    provider,
    url,
    migrationsDir: app.schema.migrationsDir(provider),
    onProgress: p => { if (p.status === 'applied') progress({ key: 'backup.progress.migration', params: { name: p.name, index: p.index + 1, total: p.total } }) }
  })
  return { key: 'backup.stages.restored', params: { count: summary.totalRows, rows: summary.totalRows, tables: summary.tables.length, migrations: rest.applied.length } }
}

/** With the restored accounts kept, the admin stage only records the install. */
export async function recordInstallWithRestoredAdmins (data: WizardData, detail: Record<string, string>, app: InstallApp): Promise<Message> {
  const database = data.answers.database!
  const db = await createClient<AmorceDb>(app.schema, database.provider, database.url)
  try {
    // The administrators live where the app's admin store says (its own users table), never assumed here.
    const count = (await app.admin.list(db)).length
    if (count === 0) throw new BackupError('unknownTable', 'the restored backup holds no administrator', { name: app.admin.table?.name ?? '-' })
    await db.auditLog.create({ data: { event: 'install.completed', detail: JSON.stringify({ ...detail, restored: true }) } })
    return { key: 'backup.stages.adminsKept', params: { count } }
  } finally {
    await db.$disconnect()
  }
}

/**
 * A failed restore, as the install page shows it: always a localized message, never a driver's text or a
 * server path (the cause is in the log). The load is one transaction, so nothing of it is kept; Resume runs it
 * again, Back to the summary chooses another backup.
 */
export function restoreFailure (error: unknown): Message {
  if (error instanceof BackupError) {
    const { key, params } = error.i18n
    // notFound names the path given on the server step; shown as given, it is the person's own input.
    return { key, params }
  }
  return { key: 'setup.restore.errors.restoreFailed' }
}

/** After the install, the uploaded backup (password hashes) has no reason to stay in DATA_DIR. */
export async function removeRestoredUpload (data: WizardData, dataDir: string): Promise<void> {
  const restore = data.answers.restore
  if (restore && restore.mode === 'upload') await removeUpload(dataDir, restore.file)
}
