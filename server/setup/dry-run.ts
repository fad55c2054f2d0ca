// A dry run (issue 16): a setup session entered with "Dry run" walks every step through the same pages and checks
// (connection tests, the cache test, the backup verification, the password check) but never installs. Its
// summary shows the plan of what Install would do, computed by the code the install runs (the `.env` entries
// from the same values and writer rules, secrets masked; the migrations from the app's schema against the
// target database; the verified backup's manifest; the administrator), and "End dry run" gives the Install
// action's own verdict, removes what the steps kept on the server (an uploaded backup) and ends the session.
// Nothing here knows a step by its id but through the answers every install reads (database, restore, admin).
import { rmdir, stat } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import type { AppConfig } from '../config/config.ts'
import { listLocalMigrations, migrationStatus } from '../db/migrate.ts'
import type { AppDefinition } from '../definition.ts'
import { secretForms } from './export.ts'
import { installValues, secretsOf } from './finalize.ts'
import type { Registry } from './registry.ts'
import type { FieldError, StepContext, WizardData } from './step.ts'
import { envEntriesFor, installRefusal } from './steps/finalize.ts'

/** What a masked secret shows instead. */
export const MASK = '••••••'

export interface EnvLine { key: string, value: string, masked: boolean }

export interface DryRunPlan {
  /** where Install would write the `.env` */
  envFile: string
  /** its entries as Install would write them (the lock's date as the install's), secrets masked */
  env: EnvLine[]
  database: { provider: string, target: string, create: boolean }
  /** the migrations Install would apply, in order; `error` when the database could not be read */
  migrations: { pending: string[], applied: number, error?: string }
  restore: null | { sourceProvider: string, createdAt: string, migration: string, totalRows: number, tables: Array<{ name: string, rows: number }>, admins: string[] }
  admin: { keepRestored: false, username: string, email: string } | { keepRestored: true, usernames: string[] }
  /** every step's summary line (a host's own steps' among them), as the summary page says them */
  summary: Array<{ label: string, value: string }>
}

export interface DryRunVerdict {
  /** whether the Install button would be accepted now */
  accepted: boolean
  /** why not, as the Install action would say it */
  refusal: (FieldError & { text: string }) | null
  /** what Install would do (null when a step is still open: the install's inputs are not all known) */
  plan: DryRunPlan | null
}

export function isDryRun (data: WizardData | undefined | null): boolean {
  return Boolean(data?.dryRun)
}

/**
 * Runs `fn`, then removes the directories on the way to `dir` that did not exist before (deepest first, only
 * when empty): a dry run's test of a path (a SQLite file's directory, a cache directory) leaves no trace.
 */
export async function leavingNoNewDirs<T> (dir: string, fn: () => Promise<T>): Promise<T> {
  const missing: string[] = []
  let at = path.resolve(dir)
  for (;;) {
    const exists = await stat(at).then(() => true, (err: NodeJS.ErrnoException) => err.code !== 'ENOENT')
    if (exists) break
    missing.push(at)
    const parent = path.dirname(at)
    if (parent === at) break
    at = parent
  }
  try {
    return await fn()
  } finally {
    for (const d of missing) await rmdir(d).catch(() => {})
  }
}

/** A value with every secret in it masked: a URL's password, and any form (plain, URL-encoded, base64) of a secret. */
export function maskSecrets (value: string, secrets: readonly string[]): { value: string, masked: boolean } {
  let out = value
  try {
    const u = new URL(value)
    if (u.password) {
      u.password = 'amorce-masked-password'
      out = u.toString().replace('amorce-masked-password', MASK)
    }
  } catch { /* not a URL */ }
  for (const secret of secrets) for (const form of secretForms(secret)) out = out.split(form).join(MASK)
  return { value: out, masked: out !== value }
}

export interface PlanContext {
  step: StepContext
  setup: { sessionSecret: string, token: string }
  log: FastifyBaseLogger
}

/** What Install would do with these answers, computed without writing anything. */
export async function dryRunPlan ({ step: ctx, setup, log }: PlanContext): Promise<DryRunPlan | null> {
  const { data, config, definition } = ctx
  const { database, cache, admin } = data.answers
  if (installRefusal(ctx) || !database || !cache || !admin) return null
  const secrets = [setup.sessionSecret, setup.token, ...secretsOf(ctx.registry, data)]
  const entries = await envEntriesFor(config, installValues(data, setup), { installedAt: new Date().toISOString() })
  const env = Object.entries(entries).map(([key, raw]) => ({ key, ...maskSecrets(raw, secrets) }))

  const create = database.provider === 'sqlite'
    ? !(await stat(database.file).then(s => s.size > 0, () => false))
    : database.create === true
  const migrations = await migrationPlan(definition, database, create, log)
  const restore = data.answers.restore
  const chosen = restore && restore.mode !== 'fresh' && restore.confirmed ? restore.summary : undefined
  return {
    envFile: config.envFile,
    env,
    database: { provider: database.provider, target: database.provider === 'sqlite' ? database.file : database.database, create },
    migrations,
    restore: chosen
      ? { sourceProvider: chosen.sourceProvider, createdAt: chosen.createdAt, migration: chosen.migration, totalRows: chosen.totalRows, tables: chosen.tables, admins: chosen.admins }
      : null,
    admin: admin.keepRestored ? { keepRestored: true, usernames: chosen?.admins ?? [] } : { keepRestored: false, username: admin.username, email: admin.email },
    summary: ctx.registry.steps.flatMap(s => s.summary?.(ctx) ?? []).map(line => ({ label: ctx.t(line.key), value: line.value }))
  }
}

/** The app's migrations the target database lacks (all of them for a database Install would create). */
async function migrationPlan (definition: AppDefinition, database: NonNullable<WizardData['answers']['database']>, create: boolean, log: FastifyBaseLogger): Promise<DryRunPlan['migrations']> {
  const migrationsDir = definition.schema.migrationsDir(database.provider)
  if (create) return { pending: (await listLocalMigrations(database.provider, { migrationsDir })).map(m => m.name), applied: 0 }
  try {
    const status = await migrationStatus({ provider: database.provider, url: database.url, migrationsDir })
    return { pending: status.pending, applied: status.applied.length }
  } catch (err) {
    log.warn({ err: { code: (err as { code?: string }).code } }, 'dry run: the migration history could not be read')
    return { pending: [], applied: 0, error: (err as { code?: string }).code ?? 'unreadable' }
  }
}

/** The Install action's own verdict on this session, and the plan when every step was accepted. */
export async function dryRunVerdict (plan: PlanContext): Promise<DryRunVerdict> {
  const ctx = plan.step
  const refusal: FieldError | null = ctx.installing ? { key: 'setup.dryRun.installing' } : installRefusal(ctx)
  return {
    accepted: refusal === null,
    refusal: refusal ? { ...refusal, text: ctx.t(refusal.key, refusal.params ?? {}) } : null,
    plan: refusal ? null : await dryRunPlan(plan)
  }
}

/** Every step drops what it kept on the server for the install (an uploaded backup): the session is going away. */
export async function discardSession (registry: Registry, data: WizardData, config: AppConfig, log: FastifyBaseLogger): Promise<void> {
  for (const step of registry.steps) {
    try {
      await step.discard?.({ data, config, log })
    } catch (err) {
      log.warn({ step: step.id, err: { message: (err as Error).message } }, 'a step could not discard what it kept')
    }
  }
}
