// What a replay of one or many servers tells at the end: each server's outcome as a localized table for a
// person, or as JSON (`--report json`) for CI and configuration-management tools; and the i18n key of a
// message the wizard's page showed, found back from its text.
import type { TFunction } from 'i18next'
import { loadResources, type Language } from '../i18n.ts'
import type { DryRunPlan } from '../setup/dry-run.ts'
import type { DryRunOutcome } from './replay.ts'

export type Status = 'ok' | 'failed'

/** One step of one server's replay. */
export interface StepOutcome {
  name: string
  status: Status
  seconds: number
  /** the i18n key of what went wrong (null when the step succeeded) */
  messageKey: string | null
  /** what went wrong, every line of it, as the page said it (null when the step succeeded) */
  message: string | null
}

/** One server's replay, as a whole. */
export interface ServerOutcome {
  name: string
  url: string
  status: Status
  seconds: number
  /** the step that failed, or null */
  failedStep: string | null
  messageKey: string | null
  message: string | null
  screenshot: string | null
  /** the steps run, in order; the last is the failed one on a failure (later steps never ran) */
  steps: StepOutcome[]
  /** with --dry-run: what the server said Install would do, and whether it would be accepted */
  dryRun?: DryRunReport
}

/** One server's dry run: the verdict of its Install button and the plan its summary showed (secrets masked). */
export interface DryRunReport {
  /** Install would be accepted: the exit code is 0 only if every server's is */
  accepted: boolean
  /** the dry-run session was ended on the server (an uploaded backup deleted), whatever the outcome */
  sessionEnded: boolean
  /** why Install would be refused, as the server said it (null when accepted) */
  refusal: { key: string, message: string } | null
  /** the plan; null when a step stopped the dry run before the summary */
  envFile: string | null
  env: DryRunPlan['env']
  database: DryRunPlan['database'] | null
  migrations: DryRunPlan['migrations'] | null
  restore: DryRunPlan['restore']
  admin: DryRunPlan['admin'] | null
}

export function dryRunReport (outcome: DryRunOutcome | undefined): DryRunReport {
  const verdict = outcome?.verdict ?? null
  const plan = verdict?.plan ?? null
  return {
    accepted: verdict?.accepted === true,
    sessionEnded: outcome?.ended === true,
    refusal: verdict?.refusal ? { key: verdict.refusal.key, message: verdict.refusal.text } : null,
    envFile: plan?.envFile ?? null,
    env: plan?.env ?? [],
    database: plan?.database ?? null,
    migrations: plan?.migrations ?? null,
    restore: plan?.restore ?? null,
    admin: plan?.admin ?? null
  }
}

export interface FleetReport {
  version: 1
  /** a dry run (--dry-run): nothing was installed, "ok" means Install would be accepted */
  dryRun: boolean
  /** true only if every server succeeded: the exit code says the same */
  ok: boolean
  seconds: number
  servers: ServerOutcome[]
}

export function fleetReport (servers: ServerOutcome[], seconds: number, dryRun = false): FleetReport {
  return { version: 1, dryRun, ok: servers.every(s => s.status === 'ok'), seconds: round(seconds), servers }
}

export function round (seconds: number): number {
  return Math.round(seconds * 100) / 100
}

/** A message's key and the line of it that the key says. */
export interface KeyedLine { key: string, line: string }

/**
 * Finds, from the texts of one language, the key of each line of a page's message. A template's
 * `{{placeholders}}` and `$t(nested)` keys match any text; templates with too little literal text to tell
 * (a bare "{{name}}") are left out. Built once per report, not kept between runs.
 */
export function messageIndex (language: Language, resources = loadResources()): (message: string) => KeyedLine | null {
  const entries: Array<{ key: string, re: RegExp, weight: number }> = []
  const walk = (node: unknown, prefix: string) => {
    if (typeof node === 'string') {
      const parts = node.split(/\{\{[^}]*\}\}|\$t\([^)]*\)/)
      const weight = parts.join('').replace(/[\s\p{P}]/gu, '').length
      if (weight < 6) return
      const re = new RegExp('^' + parts.map(escapeRegExp).join('.+?') + '$', 's')
      entries.push({ key: prefix.replace(/_(zero|one|two|few|many|other)$/, ''), re, weight })
      return
    }
    if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, prefix ? `${prefix}.${k}` : k)
    }
  }
  walk(resources[language], '')
  const keyOf = (line: string): string | null => {
    let best: { key: string, weight: number } | null = null
    for (const e of entries) if (e.re.test(line) && (!best || e.weight > best.weight)) best = e
    return best?.key ?? null
  }
  return message => {
    // The first line that says something of its own: an error summary's title ("Some answers need your
    // attention:", common.*) only announces the items under it.
    const lines = message.split('\n').map(l => l.trim()).filter(l => l !== '')
    const keyed = lines.map(line => ({ line, key: keyOf(line) }))
    const own = keyed.find(k => k.key !== null && !k.key.startsWith('common.')) ?? keyed.find(k => k.key !== null)
    return own ? { key: own.key!, line: own.line } : null
  }
}

function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function width (s: string): number {
  return [...s].length
}

function pad (s: string, n: number): string {
  return s + ' '.repeat(Math.max(0, n - width(s)))
}

/**
 * The table a person reads at the end: one row per server (outcome, failed step, the message's telling line,
 * time), then a line that counts them. `message` picks the line of a message to show (default: its first).
 */
export function renderTable (report: FleetReport, t: TFunction, line: (o: ServerOutcome) => string | null = o => o.message?.split('\n')[0] ?? null): string {
  const none = t('replay.table.none')
  const header = ['server', 'outcome', 'failedStep', 'message', 'time'].map(c => t(`replay.table.${c}`))
  // A dry run's outcomes are verdicts: "accepted" or "refused", not "installed".
  const rows = report.servers.map(s => [
    s.name,
    report.dryRun ? t(`replay.dryRun.status.${s.status}`) : t(`replay.status.${s.status}`),
    s.failedStep ?? none,
    s.status === 'ok' ? none : line(s) ?? none,
    t('replay.table.seconds', { seconds: s.seconds })
  ])
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map(r => width(r[i]))))
  // Times right-aligned, so that their units line up.
  const format = (cells: string[]) => cells.map((c, i) => i === cells.length - 1 ? ' '.repeat(widths[i] - width(c)) + c : pad(c, widths[i])).join('  ').trimEnd()
  const failed = report.servers.filter(s => s.status !== 'ok').length
  return [
    format(header),
    widths.map(w => '─'.repeat(w)).join('  '),
    ...rows.map(format),
    t(report.dryRun ? 'replay.dryRun.summary' : 'replay.table.summary', { count: report.servers.length, failed, ok: report.servers.length - failed, seconds: report.seconds })
  ].join('\n')
}

/** A dry run's plan as lines for a person (the CLI's text output), secrets already masked by the server; `opened`: a session was. */
export function renderDryRun (d: DryRunReport, t: TFunction, opened = true): string[] {
  const lines: string[] = []
  if (d.database) lines.push(t(d.database.create ? 'replay.dryRun.databaseCreate' : 'replay.dryRun.databaseExisting', { target: d.database.target, engine: t(`setup.database.providers.${d.database.provider}`) }))
  if (d.migrations) {
    lines.push(d.migrations.pending.length === 0
      ? t('replay.dryRun.migrationsNone', { count: d.migrations.applied })
      : t('replay.dryRun.migrations', { count: d.migrations.pending.length, applied: d.migrations.applied }))
    for (const name of d.migrations.pending) lines.push(`  ${name}`)
  }
  if (d.database) {
    lines.push(d.restore
      ? t('replay.dryRun.restore', { count: d.restore.totalRows, tables: d.restore.tables.length, engine: t(`setup.restore.engines.${d.restore.sourceProvider}`), date: d.restore.createdAt.slice(0, 10), migration: d.restore.migration })
      : t('replay.dryRun.restoreNone'))
  }
  if (d.admin) lines.push(d.admin.keepRestored ? t('replay.dryRun.adminKept', { names: d.admin.usernames.join(', ') }) : t('replay.dryRun.admin', { username: d.admin.username, email: d.admin.email }))
  if (d.envFile) {
    lines.push(t('replay.dryRun.env', { file: d.envFile }))
    for (const e of d.env) lines.push(`  ${e.key}=${e.value}`)
  }
  // Refused at the token: no session was opened, there is nothing to end.
  if (opened) lines.push(t(d.sessionEnded ? 'replay.dryRun.sessionEnded' : 'replay.dryRun.sessionNotEnded'))
  return lines
}
