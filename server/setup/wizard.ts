// The wizard as data (after Discourse's wizard): one ordered list of step modules; navigation,
// the stepper and "first incomplete step" are all derived from it.
import type { TFunction } from 'i18next'
import type { AppConfig } from '../config/config.ts'
import type { Language } from '../i18n.ts'
import { languageStep } from './steps/language.ts'
import { prerequisitesStep } from './steps/prerequisites.ts'
import { databaseStep } from './steps/database.ts'
import type { DatabaseAnswer } from './steps/database.ts'
import { cacheStep } from './steps/cache.ts'
import { restoreStep } from './steps/restore.ts'
import type { RestoreChoice } from './steps/restore.ts'
import { adminStep } from './steps/admin.ts'
import { finalizeStep } from './steps/finalize.ts'

export type StepId = 'language' | 'prerequisites' | 'database' | 'cache' | 'restore' | 'admin' | 'finalize'

/** The answers gathered so far; kept in the wizard's server-side session. */
export interface WizardData {
  language?: Language
  database?: DatabaseAnswer
  /** the last database password typed on the database step: kept server-side so a re-render without it keeps it */
  databasePassword?: string
  /** whose password databasePassword is (engine, host, port, user): another account or server never gets it */
  databasePasswordFor?: string
  /** redisUrl never holds the password: it is kept apart (a secret field, never shown) */
  cache?: { backend: 'memory' | 'filesystem' | 'redis', dir?: string, redisUrl?: string, redisPassword?: string }
  restore?: { mode: 'fresh' } | RestoreChoice
  /** keepRestored: no new account, the restored administrators sign in (username, email and hash are then empty) */
  admin?: { username: string, email: string, passwordHash: string, keepRestored?: boolean }
  /** the hash of a password the admin step accepted while another of its fields was refused: blank fields keep it */
  adminPasswordHash?: string
  /** steps whose answers were accepted */
  done: StepId[]
  /** values typed but not yet accepted (kept across a language switch or Back); never secrets */
  drafts: Partial<Record<StepId, Record<string, string>>>
  /** steps the real environment answers (see preset.ts): shown read-only */
  fromEnvironment?: StepId[]
}

export interface FieldError { key: string, params?: Record<string, unknown> }
export type Errors = Record<string, FieldError>
export type Input = Record<string, string>

export interface StepContext {
  config: AppConfig
  data: WizardData
  lang: Language
  t: TFunction
}

/** What a step's page shows besides its values, e.g. check results or a test outcome. */
export type StepView = Record<string, unknown>

export interface ActionOutcome { errors?: Errors, view?: StepView }

export interface Step {
  id: StepId
  /** fields never echoed back into a page nor kept in drafts */
  secretFields?: string[]
  /** a value as it may be shown or kept in a draft, for fields that can hold a secret inside (a pasted URL) */
  redact?(name: string, value: string): string
  /** the form's values: the accepted answer, else defaults */
  values(ctx: StepContext): Input
  /** extra data for the page (checks, warnings) */
  view?(ctx: StepContext, values: Input): Promise<StepView>
  /** validates and stores the answer in ctx.data; errors mean nothing was stored */
  submit(input: Input, ctx: StepContext): Promise<ActionOutcome>
  /** named buttons other than Next/Back (e.g. "test") */
  actions?: Record<string, (input: Input, ctx: StepContext) => Promise<ActionOutcome>>
}

export const STEPS: readonly Step[] = [languageStep, prerequisitesStep, databaseStep, cacheStep, restoreStep, adminStep, finalizeStep]

export function findStep (id: string): Step | undefined {
  return STEPS.find(s => s.id === id)
}

export function stepIndex (id: StepId): number {
  return STEPS.findIndex(s => s.id === id)
}

export function previousStep (id: StepId): Step | undefined {
  return STEPS[stepIndex(id) - 1]
}

export function nextStep (id: StepId): Step | undefined {
  return STEPS[stepIndex(id) + 1]
}

export function firstIncompleteStep (data: WizardData): Step {
  return STEPS.find(s => !data.done.includes(s.id)) ?? STEPS[STEPS.length - 1]
}

/** A step may be opened once every step before it is done. */
export function isReachable (id: StepId, data: WizardData): boolean {
  return STEPS.slice(0, stepIndex(id)).every(s => data.done.includes(s.id))
}

/** The answers alone, without progress or drafts: what later steps were checked against. */
export function answersSnapshot (data: WizardData): string {
  const { done: _done, drafts: _drafts, fromEnvironment: _env, adminPasswordHash: _pending, ...answers } = data
  return JSON.stringify(answers)
}

/**
 * Marks a step done. When `changed` (its answer differs from before), the later steps are to be
 * accepted again: their checks may depend on it (several instances → Redis only; the database
 * engine → the backup's migration level). Their answers stay, so their pages come prefilled.
 */
export function markDone (data: WizardData, id: StepId, changed = false): void {
  if (changed) data.done = data.done.filter(s => stepIndex(s) < stepIndex(id))
  if (!data.done.includes(id)) data.done.push(id)
}

export function newWizardData (): WizardData {
  return { done: [], drafts: {} }
}

export function stepper (current: StepId, data: WizardData): Array<{ id: StepId, state: 'done' | 'current' | 'todo', reachable: boolean, index: number }> {
  return STEPS.map((s, index) => ({
    id: s.id,
    index,
    state: s.id === current ? 'current' : data.done.includes(s.id) ? 'done' : 'todo',
    reachable: isReachable(s.id, data)
  }))
}
