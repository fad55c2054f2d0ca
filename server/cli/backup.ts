// `amorce backup --out FILE`, `amorce backup verify FILE` and `amorce restore FILE`: the wizard's backup
// format, checks and messages (server/backup/*), from a terminal.
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { loadConfig, envFileEntries, type AppConfig } from '../config/config.ts'
import { readEnvFile, writeEnvFile } from '../config/envfile.ts'
import { createBackup } from '../backup/create.ts'
import { BackupError } from '../backup/errors.ts'
import { backupLimits, type BackupLimits, type BackupSummary } from '../backup/format.ts'
import { readManifest, restoreBackup } from '../backup/restore.ts'
import { verifyBackup, verifyBackupFile } from '../backup/verify.ts'
import { createClient } from '../runtime.ts'
import { MigrationError, PROVIDERS, sqliteFilePath, type Provider } from '../db/migrate.ts'
import { probeDatabase } from '../db/probe.ts'
import { parseDatabaseUrl } from '../db/engines/index.ts'
import { probeSqliteFile } from '../db/engines/sqlite.ts'
import { DatabaseUrlError } from '../db/url.ts'
import type { AppSchema } from '../definition.ts'
import type { BackupSchema } from '../backup/verify.ts'
import { ADMIN_CLAIM_KEY, INSTALL_LOCK_SETTING, removeJournal } from '../setup/finalize.ts'
import { withoutEnvironmentKeys } from '../setup/preset.ts'
import { TOKEN_FILE_NAME } from '../setup/token.ts'
import { EXIT, type CliContext } from './context.ts'

/**
 * The wizard's complete verification, writing nothing. One adapter, so a change of the verification's entry
 * point (server/backup/verify.ts) is a one-line change here.
 */
export function verifyFile (file: string, provider: Provider, limits: BackupLimits, schema: BackupSchema): Promise<BackupSummary> {
  return verifyBackup(file, { provider, limits, schema })
}

/** The schema of the app the command serves; a test may give a copy of `provider`'s migrations folder. */
async function schemaOf (ctx: CliContext, provider: Provider): Promise<AppSchema> {
  const { schema } = (await ctx.app()).definition
  return ctx.migrationsDir ? { ...schema, migrationsDir: p => p === provider ? ctx.migrationsDir! : schema.migrationsDir(p) } : schema
}

/** A backup error as the wizard words it; anything else by its message, which never holds a secret here. */
function failure (ctx: CliContext, key: string, error: unknown, secrets: string[] = []): void {
  let detail: string
  if (error instanceof BackupError) detail = ctx.t(error.i18n.key, error.i18n.params)
  else if (error instanceof MigrationError) detail = ctx.t('cli.errors.migration', { code: error.code, detail: error.message })
  else detail = (error as Error).message ?? String(error)
  for (const s of secrets) if (s.length >= 4) detail = detail.split(s).join('[…]')
  ctx.err(ctx.t(key, { detail }))
}

function urlSecret (url: string | undefined): string[] {
  try { return [decodeURIComponent(new URL(url ?? '').password)] } catch { return [] }
}

function printSummary (ctx: CliContext, s: BackupSummary): void {
  const { t, out } = ctx
  out(t('cli.backup.summary.made', { app: s.appVersion, at: s.createdAt, engine: s.sourceProvider, migration: s.migration }))
  out(t('cli.backup.summary.rows', { rows: s.totalRows, tables: s.tables.length, size: (s.bytes / 1024 ** 2).toFixed(1) }))
  for (const table of s.tables) out(`  ${table.name.padEnd(20)} ${table.rows}`)
  out(t('cli.backup.summary.admins', { names: s.admins.join(', ') || '—' }))
}

export async function backupCreate (ctx: CliContext, out: string): Promise<number> {
  const { t } = ctx
  const config = await loadConfig(ctx.env, ctx.cwd, { languages: (await ctx.app()).definition.languages })
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!config.installed || provider === undefined || url === undefined) {
    ctx.err(t('cli.backup.notInstalled', { file: config.envFile }))
    return EXIT.failed
  }
  const target = path.resolve(ctx.cwd, out)
  // Written under a temporary name and renamed at the end: a failed run never leaves a file that looks like a backup.
  const partial = `${target}.partial-${process.pid}`
  const tty = ctx.io.stderr.isTTY === true
  let lastDraw = 0
  const started = Date.now()
  try {
    const manifest = await createBackup(createWriteStream(partial, { mode: 0o600 }), {
      provider,
      url,
      // The app's own tables, as its (engine-neutral) SQLite migrations describe them.
      schema: await schemaOf(ctx, provider),
      tmpDir: path.dirname(target),
      onProgress: p => {
        if (!tty || (Date.now() - lastDraw < 100 && p.rowsDone !== p.rowsTotal)) return
        lastDraw = Date.now()
        const percent = p.rowsTotal === 0 ? 100 : Math.floor(p.rowsDone * 100 / p.rowsTotal)
        ctx.io.stderr.write(`\r${t('cli.backup.progress', { table: p.table.padEnd(20), done: p.rowsDone, total: p.rowsTotal, percent })}`)
      }
    })
    await rename(partial, target)
    if (tty) ctx.io.stderr.write('\n')
    const rows = manifest.tables.reduce((sum, table) => sum + table.rows, 0)
    ctx.out(t('cli.backup.written', { file: target, tables: manifest.tables.length, rows, migration: manifest.migration, seconds: ((Date.now() - started) / 1000).toFixed(1) }))
    return EXIT.ok
  } catch (error) {
    await rm(partial, { force: true })
    if (tty) ctx.io.stderr.write('\n')
    failure(ctx, 'cli.backup.failed', error, urlSecret(url))
    return EXIT.failed
  }
}

/** The engine the backup is checked against: the configured one, else the engine it was made on. */
async function targetEngine (ctx: CliContext, config: AppConfig, file: string, limits: BackupLimits): Promise<Provider> {
  if (config.values.databaseProvider) return config.values.databaseProvider
  let last: unknown
  for (const provider of PROVIDERS) {
    try {
      return (await readManifest({ file, provider, limits, schema: await schemaOf(ctx, provider) })).manifest.sourceProvider
    } catch (error) {
      last = error
      // Only a level this engine lacks is worth trying another engine for.
      if (!(error instanceof BackupError) || !['unknownMigration', 'newerMigration'].includes(error.code)) throw error
    }
  }
  throw last
}

export async function backupVerify (ctx: CliContext, file: string): Promise<number> {
  const { t } = ctx
  const config = await loadConfig(ctx.env, ctx.cwd, { languages: (await ctx.app()).definition.languages })
  const limits = backupLimits(ctx.env)
  const target = path.resolve(ctx.cwd, file)
  try {
    const provider = await targetEngine(ctx, config, target, limits)
    // Every problem the scan finds, one line each (as `npm run backup:verify` prints them), not only the first.
    const report = await verifyBackupFile(target, { provider, limits, env: ctx.env, schema: await schemaOf(ctx, provider), admin: (await ctx.app()).definition.admin })
    if (!report.ok) {
      for (const problem of report.problems) ctx.err(t('cli.backup.invalid', { detail: t(problem.key, problem.params) }))
      return EXIT.failed
    }
    ctx.out(t('cli.backup.verified', { file: target, engine: provider }))
    printSummary(ctx, report.summary!)
    return EXIT.ok
  } catch (error) {
    failure(ctx, 'cli.backup.invalid', error)
    return EXIT.failed
  }
}

/** Settings about the install that made the backup (see server/backup/install.ts), not this one. */
const SOURCE_ONLY_SETTINGS = [ADMIN_CLAIM_KEY, INSTALL_LOCK_SETTING]

/** Refuses a database that already holds anything: returns the message key and params, or null when empty. */
async function targetProblem (provider: Provider, url: string, schema: AppSchema): Promise<{ key: string, params?: Record<string, unknown> } | null> {
  if (provider === 'sqlite') {
    const file = sqliteFilePath(url)
    if (!existsSync(file)) return null
    const r = await probeSqliteFile(file, { schema })
    if (!r.ok) return { key: `setup.database.errors.${r.reason}`, params: { file, detail: r.detail ?? '' } }
    return null // 'ours' with rows is refused by the restore itself (targetNotEmpty), table by table
  }
  let c
  try { c = parseDatabaseUrl(url) } catch (err) { return { key: `setup.database.errors.${err instanceof DatabaseUrlError ? err.code : 'urlInvalid'}` } }
  const r = await probeDatabase(c, { schema })
  const params = { host: c.host, port: c.port, user: c.user, database: c.database }
  if (!r.ok) return { key: `setup.database.causes.${r.cause}`, params: { ...params, missing: (r.missing ?? []).join(', '), names: (r.names ?? []).join(', '), version: r.version ?? '', minimum: r.minimum ?? '', detail: '' } }
  if (r.state === 'otherTables') return { key: 'cli.restore.otherTables', params: { names: r.tables.join(', ') } }
  return null
}

export async function restore (ctx: CliContext, file: string): Promise<number> {
  const { t } = ctx
  const config = await loadConfig(ctx.env, ctx.cwd, { languages: (await ctx.app()).definition.languages })
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (config.installed) {
    ctx.err(t('cli.restore.installed', { file: config.envFile }))
    return EXIT.failed
  }
  if (!provider || !url) {
    ctx.err(t('cli.restore.notConfigured', { file: config.envFile }))
    return EXIT.failed
  }
  const secrets = [...urlSecret(url), ...urlSecret(config.values.redisUrl)]
  const target = path.resolve(ctx.cwd, file)
  const limits = backupLimits(ctx.env)

  const problem = await targetProblem(provider, url, await schemaOf(ctx, provider))
  if (problem) {
    ctx.err(t('cli.restore.refused', { detail: t(problem.key, problem.params ?? {}) }))
    return EXIT.failed
  }
  let summary: BackupSummary
  try {
    summary = await verifyFile(target, provider, limits, await schemaOf(ctx, provider))
  } catch (error) {
    failure(ctx, 'cli.backup.invalid', error)
    return EXIT.failed
  }
  ctx.out(t('cli.backup.verified', { file: target, engine: provider }))
  printSummary(ctx, summary)

  let migrations = 0
  let lastPercent = -1
  try {
    await restoreBackup({
      file: target,
      provider,
      url,
      limits,
      schema: await schemaOf(ctx, provider),
      admin: (await ctx.app()).definition.admin,
      onMigration: p => { if (p.status === 'applied') migrations++ },
      onProgress: p => {
        const percent = p.rowsTotal === 0 ? 100 : Math.floor(p.rowsDone * 100 / p.rowsTotal)
        if (percent === lastPercent || ctx.io.stderr.isTTY !== true) return
        lastPercent = percent
        ctx.io.stderr.write(`\r${t('backup.progress.rows', { done: p.rowsDone, total: p.rowsTotal, percent })}`)
      }
    })
    if (ctx.io.stderr.isTTY === true) ctx.io.stderr.write('\n')
  } catch (error) {
    failure(ctx, 'cli.restore.failed', error, secrets)
    return EXIT.failed
  }

  // The install lock, as the wizard's last stages write it: in the database, then in the .env.
  const installedAt = new Date().toISOString()
  const { definition } = await ctx.app()
  const db = await createClient(definition.schema, provider, url)
  try {
    await db.setting.deleteMany({ where: { key: { in: SOURCE_ONLY_SETTINGS } } })
    const admins = (await definition.admin.list(db)).length
    if (admins === 0) {
      ctx.err(t('cli.restore.noAdmin'))
      return EXIT.failed
    }
    await db.auditLog.create({ data: { event: 'install.completed', detail: JSON.stringify({ provider, restored: true, via: 'cli' }) } })
    await db.setting.upsert({ where: { key: INSTALL_LOCK_SETTING }, create: { key: INSTALL_LOCK_SETTING, value: installedAt }, update: { value: installedAt } })
  } finally {
    await db.$disconnect()
  }
  try {
    const current = await readEnvFile(config.envFile) ?? {}
    const values = { ...config.values, installedAt, sessionSecret: config.values.sessionSecret ?? randomBytes(32).toString('base64url') }
    // Keys the real environment gives stay out of the file, as the wizard does.
    await writeEnvFile(config.envFile, withoutEnvironmentKeys(envFileEntries(values, current), config))
  } catch (error) {
    ctx.err(t('cli.restore.lockNotWritten', { file: config.envFile, detail: (error as NodeJS.ErrnoException).code ?? (error as Error).message }))
    return EXIT.failed
  }
  await removeJournal(config.dataDir).catch(() => {})
  await rm(path.join(config.dataDir, TOKEN_FILE_NAME), { force: true })
  ctx.out(t('cli.restore.done', { rows: summary.totalRows, tables: summary.tables.length, migrations, file: config.envFile }))
  return EXIT.ok
}
