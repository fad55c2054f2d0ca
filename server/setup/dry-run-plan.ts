// The dry run's plan and verdict (see dry-run.ts): what Install would do, computed by the code the install runs,
// and the Install action's own check. Nothing here knows a step by its id but through the answers every install
// reads (database, cache, restore, admin); a host's own steps take part through their summary lines and discard.
import { stat } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { AppConfig } from '../config/config.ts'
import { listLocalMigrations, migrationStatus } from '../db/migrate.ts'
import type { AppDefinition } from '../definition.ts'
import { maskSecrets, type DryRunPlan, type DryRunVerdict } from './dry-run.ts'
import { installValues, secretsOf } from './finalize.ts'
import type { Registry } from './registry.ts'
import type { FieldError, StepContext, WizardData } from './step.ts'
import { envEntriesFor, installRefusal } from './steps/finalize.ts'

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
