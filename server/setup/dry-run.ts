// A dry run (issue 16): a setup session entered with "Dry run" walks every step through the same pages and checks
// (connection tests, the cache test, the backup verification, the password check) but never installs. Its
// summary shows the plan of what Install would do, computed by the code the install runs (the `.env` entries
// from the same values and writer rules, secrets masked; the migrations from the app's schema against the
// target database; the verified backup's manifest; the administrator), and "End dry run" gives the Install
// action's own verdict, removes what the steps kept on the server (an uploaded backup) and ends the session.
// This module is the part the steps use (no import of them); the plan and the verdict are in dry-run-plan.ts.
import { rmdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { secretForms } from './export.ts'
import type { FieldError, WizardData } from './step.ts'

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

