// `amorce migrate status` and `amorce migrate deploy`: the project's migration runner (server/db/migrate.ts),
// with a backup written before any pending migration is applied (unless --no-backup).
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { loadConfig, type AppConfig } from '../config/config.ts'
import { backupStamp } from '../config/envfile.ts'
import { createBackup } from '../backup/create.ts'
import { BackupError } from '../backup/errors.ts'
import { appSchema, type TableSpec } from '../backup/schema.ts'
import { migrate, MigrationError, migrationStatus, type MigrationStatus, type Provider } from '../db/migrate.ts'
import type { AppSchema } from '../definition.ts'
import { EXIT, type CliContext } from './context.ts'

async function target (ctx: CliContext, config: AppConfig): Promise<{ provider: Provider, url: string, migrationsDir: string, schema: AppSchema } | null> {
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!provider || !url) {
    ctx.err(ctx.t('cli.migrate.notConfigured', { file: config.envFile }))
    return null
  }
  // ctx.migrationsDir (tests) stands for the configured provider's migrations.
  const { schema: appSchemaOf } = (await ctx.app()).definition
  const schema: AppSchema = ctx.migrationsDir ? { ...appSchemaOf, migrationsDir: p => p === provider ? ctx.migrationsDir! : appSchemaOf.migrationsDir(p) } : appSchemaOf
  return { provider, url, migrationsDir: schema.migrationsDir(provider), schema }
}

function scrub (text: string, url: string): string {
  let secret = ''
  try { secret = decodeURIComponent(new URL(url).password) } catch { /* SQLite */ }
  return secret.length >= 4 ? text.split(secret).join('[…]') : text
}

function printStatus (ctx: CliContext, s: MigrationStatus): void {
  const { t, out } = ctx
  const list = (names: string[]) => names.length === 0 ? '—' : names.join(', ')
  out(t('cli.migrate.status.applied', { count: s.applied.length, names: list(s.applied) }))
  out(t('cli.migrate.status.pending', { count: s.pending.length, names: list(s.pending) }))
  if (s.failed.length > 0) out(t('cli.migrate.status.failed', { names: list(s.failed) }))
  if (s.modified.length > 0) out(t('cli.migrate.status.modified', { names: list(s.modified) }))
  if (s.missingLocally.length > 0) out(t('cli.migrate.status.unknown', { names: list(s.missingLocally) }))
}

/** The configuration, its database and that database's migration history; null (said on stderr) when unreadable. */
async function readStatus (ctx: CliContext): Promise<{ config: AppConfig, db: NonNullable<Awaited<ReturnType<typeof target>>>, s: MigrationStatus } | null> {
  const config = await loadConfig(ctx.env, ctx.cwd, { languages: (await ctx.app()).definition.languages })
  const db = await target(ctx, config)
  if (!db) return null
  try {
    return { config, db, s: await migrationStatus(db) }
  } catch (error) {
    ctx.err(ctx.t('cli.migrate.unreadable', { detail: scrub((error as Error).message, db.url) }))
    return null
  }
}

/** Exit 0 when up to date, 1 when migrations are pending, failed, modified or unknown to this version. */
export async function migrateStatus (ctx: CliContext): Promise<number> {
  const read = await readStatus(ctx)
  if (!read) return EXIT.failed
  const { s } = read
  printStatus(ctx, s)
  const clean = s.pending.length + s.failed.length + s.modified.length + s.missingLocally.length === 0
  ctx.out(ctx.t(clean ? 'cli.migrate.status.upToDate' : s.failed.length + s.modified.length + s.missingLocally.length > 0 ? 'cli.migrate.status.blocked' : 'cli.migrate.status.toApply'))
  return clean ? EXIT.ok : EXIT.failed
}

/**
 * This app's tables as they are in a database at an older level of its migrations: the schema its migrations
 * create up to the last one the database applied (server/backup/schema.ts), the same description the
 * restore checks a backup against.
 */
async function tablesAtDatabaseLevel (applied: string[], schema: AppSchema): Promise<TableSpec[]> {
  return appSchema(schema, applied.at(-1))
}

async function backupBefore (ctx: CliContext, config: AppConfig, db: { provider: Provider, url: string, migrationsDir: string, schema: AppSchema }, out: string | undefined, applied: string[]): Promise<string> {
  const file = path.resolve(ctx.cwd, out ?? path.join(config.dataDir, 'backups', `before-migrate-${backupStamp(new Date())}.tar.gz`))
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
  const partial = `${file}.partial-${process.pid}`
  try {
    await createBackup(createWriteStream(partial, { mode: 0o600 }), { ...db, tmpDir: path.dirname(file), olderLevel: true, tables: await tablesAtDatabaseLevel(applied, db.schema) })
    await rename(partial, file)
    return file
  } catch (error) {
    await rm(partial, { force: true })
    throw error
  }
}

export async function migrateDeploy (ctx: CliContext, options: { backup: boolean, backupOut?: string }): Promise<number> {
  const { t } = ctx
  const read = await readStatus(ctx)
  if (!read) return EXIT.failed
  const { config, db, s } = read
  if (s.failed.length + s.modified.length + s.missingLocally.length > 0) {
    printStatus(ctx, s)
    ctx.err(t('cli.migrate.status.blocked'))
    return EXIT.failed
  }
  if (s.pending.length === 0) {
    ctx.out(t('cli.migrate.status.upToDate'))
    return EXIT.ok
  }
  // A database with nothing applied yet holds nothing to save (the wizard or `amorce restore` fills it).
  if (options.backup && s.applied.length > 0) {
    try {
      const file = await backupBefore(ctx, config, db, options.backupOut, s.applied)
      ctx.out(t('cli.migrate.backupWritten', { file }))
    } catch (error) {
      const detail = error instanceof BackupError ? t(error.i18n.key, error.i18n.params) : scrub((error as Error).message, db.url)
      ctx.err(t('cli.migrate.backupFailed', { detail }))
      return EXIT.failed
    }
  }
  try {
    const { applied } = await migrate({
      ...db,
      onProgress: p => { if (p.status === 'applied') ctx.out(t('cli.migrate.applied', { name: p.name, index: p.index + 1, total: p.total })) }
    })
    ctx.out(t('cli.migrate.done', { count: applied.length }))
    return EXIT.ok
  } catch (error) {
    const code = error instanceof MigrationError ? error.code : 'sqlError'
    ctx.err(t('cli.migrate.failed', { code, detail: scrub((error as Error).message, db.url) }))
    return EXIT.failed
  }
}
