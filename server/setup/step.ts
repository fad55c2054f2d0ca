// The step contract: a step is ONE module that carries everything about it (fields with their schema and
// secret flag, its page, its texts, values/submit/actions, its summary lines, the environment keys that
// preset it, the install stages it contributes, how the headless replay fills it, its answers schema).
// The router, the summary, presets, the unattended install, finalize and the replay loop over steps; none
// of them knows a step by its id. Types only, plus defineStep (kept apart from registry.ts so step modules
// can import it while the registry imports them).
import type { FastifyBaseLogger } from 'fastify'
import type { TFunction } from 'i18next'
import type { Page } from 'playwright-core'
import type { AppConfig, ConfigValues } from '../config/config.ts'
import type { AppDefinition } from '../definition.ts'
import type { Language } from '../i18n.ts'
import type { SetupState } from '../state.ts'
import type { DatabaseAnswer } from './steps/database.ts'
import type { CacheAnswer } from './steps/cache.ts'
import type { RestoreChoice } from './steps/restore.ts'
import type { Registry } from './registry.ts'

/** A JSON Schema fragment (draft-07, as Fastify and Ajv read it). */
export type JsonSchema = Record<string, unknown>

export interface FieldSpec {
  /** the form value's schema; forms send strings, so it is a string schema (maxLength, enum, pattern…) */
  schema: JsonSchema
  /** never echoed back into a page, a draft, the journal or a recording */
  secret?: boolean
}

export interface FieldError { key: string, params?: Record<string, unknown> }
export type Errors = Partial<Record<string, FieldError>>
export type Input = Record<string, string>

/** The answers of the default steps, typed; a host step's answer is `answers[<its id>]`, whatever it stores. */
export interface DefaultAnswers {
  language?: Language
  database?: DatabaseAnswer
  /** redisUrl never holds the password: it is kept apart (a secret field, never shown) */
  cache?: CacheAnswer
  restore?: { mode: 'fresh' } | RestoreChoice
  /** keepRestored: no new account, the restored administrators sign in (username, email and hash are then empty) */
  admin?: { username: string, email: string, passwordHash: string, keepRestored?: boolean }
}
export type Answers = DefaultAnswers & Record<string, unknown>

/** The answers gathered so far; kept in the wizard's server-side session. */
export interface WizardData {
  /** accepted answers, by step id */
  answers: Answers
  /**
   * What a step keeps server-side between two submits and never shows, by step id (the last database
   * password typed, the hash of an admin password accepted while another field was refused). Not part of
   * the answers: changing it does not make later steps to be accepted again.
   */
  kept: Record<string, Record<string, string>>
  /** steps whose answers were accepted */
  done: string[]
  /** values typed but not yet accepted (kept across a language switch or Back); never secrets */
  drafts: Record<string, Input>
  /** steps the real environment answers (see preset.ts): shown read-only */
  fromEnvironment?: string[]
  /**
   * A dry run (dry-run.ts): every step is walked and checked, nothing is installed. Set when the token is
   * entered with "Dry run"; such a session never starts the install and ends on the plan of what it would do.
   */
  dryRun?: DryRunState
}

/** What a dry-run session notes along the way for its plan. */
export interface DryRunState {
  startedAt: string
  /** the database (its connection, as the database step names it) the Install would create */
  createDatabase?: string
}

export interface StepContext {
  config: AppConfig
  data: WizardData
  lang: Language
  t: TFunction
  /** the app being installed (its schema, admin store, steps) */
  definition: AppDefinition
  registry: Registry
  /** an install is running on this app instance (another tab or session started it) */
  installing: boolean
}

/** What a step's page shows besides its values, e.g. check results or a test outcome. */
export type StepView = Record<string, unknown>

export interface ActionOutcome {
  errors?: Errors
  view?: StepView
  /** the wizard's own language changes to this one (the language step): the router sets the cookie */
  uiLanguage?: Language
  /** start the install (or follow the running one) and stream its page, instead of rendering the step */
  install?: true
}

export interface SummaryLine { key: string, value: string }

/** One unit of the journaled install, contributed by a step; run in order, each recorded when done. */
export interface Stage {
  id: string
  /** the i18n key of its name on the install page; default `setup.finalize.stageNames.<id>` */
  label?: string
  /** the i18n key of its failure message (params: detail); default `setup.finalize.errors.<id>` */
  error?: string
  /** placed before that stage instead of after the stages of the steps before it (e.g. the `.env` first) */
  before?: string
  /** the stage's work; its message (an i18n key) is what the install page shows once it is done */
  run(ctx: StageContext): Promise<FieldError | void>
}

export interface StageContext {
  data: WizardData
  answers: Answers
  config: AppConfig
  setup: SetupState
  definition: AppDefinition
  /** where the host keeps its administrators (definition.admin) */
  admin: AppDefinition['admin']
  /** texts in the install's language (the language step's answer) */
  t: TFunction
  log: FastifyBaseLogger
  /** the values the `.env` is written from (the database, the cache, the language, the session secret) */
  values: ConfigValues
  /** the host's Prisma client on the installed database, opened on first use and closed after the stage */
  db(): Promise<any>
  /** a line shown inside the running stage (a migration applied, rows restored) */
  progress(message: FieldError): void
  /** writes the `.env`; where it cannot be written, asks the administrator to place it and waits */
  writeEnv(entries: Record<string, string>): Promise<'written' | 'placed'>
  /** replaces secret values in a text meant for the page */
  scrub(text: string): string
  /** the journal stage failure with a localized message (the stage's own default is `setup.finalize.errors.<id>`) */
  fail(detail: FieldError, cause?: unknown): never
  /** how the install reloads the configuration and opens normal mode */
  reloadConfig(): Promise<AppConfig>
  switchToNormal(): Promise<void>
}

/** How the headless replay answers a step from its section of the answers file, on the real page. */
export interface ReplayContext {
  page: Page
  /** the step's section of the answers file (undefined when absent) */
  answer: any
  /** the whole answers file */
  answers: Record<string, any>
  t: TFunction
  /** clicks Next */
  next(): Promise<void>
  /** waits for the page after a submit: the expected next page, or throws the page's own error message */
  expectNext(): Promise<void>
  /** the page's error message, if it shows one */
  pageError(): Promise<string | undefined>
  /** throws the page's own words as the replay's error */
  fail(message: string): never
  /** reports a line of the install's progress */
  progress(line: { stage: string, status: string, text: string }): void
}

export interface Step<Id extends string = string> {
  id: Id
  /** the form's fields: each field's schema (validated by the route) and whether it is a secret */
  fields?: Record<string, FieldSpec>
  /** the page's template; default `setup/<id>` (views/setup/<id>.eta, the host's views first) */
  template?: string
  /** the i18n namespace of its texts; default `setup.<id>` (locales/<lang>/setup/<id>.json) */
  namespace?: string
  /** the last page of the wizard (the summary): kept last in the registry whatever the order given */
  final?: boolean
  /** a value as it may be shown or kept in a draft, for fields that can hold a secret inside (a pasted URL) */
  redact?(name: string, value: string): string
  /** the form's values: the accepted answer, else defaults */
  values(ctx: StepContext): Input
  /** extra data for the page (checks, warnings) */
  view?(ctx: StepContext, values: Input): Promise<StepView>
  /** validates and stores the answer in ctx.data.answers[id]; errors mean nothing was stored */
  submit(input: Input, ctx: StepContext): Promise<ActionOutcome>
  /** named buttons other than Next/Back (e.g. "test") */
  actions?: Record<string, (input: Input, ctx: StepContext) => Promise<ActionOutcome>>
  /** the lines it contributes to the summary page, before the install */
  summary?(ctx: StepContext): SummaryLine[]
  /** the input the real environment gives it (never the .env file): those steps are shown read-only */
  preset?: { env: readonly string[], input(env: NodeJS.ProcessEnv, config: AppConfig): Input | undefined }
  /** the input of an unattended install when the environment gives none (undefined: the step needs a preset) */
  unattended?(ctx: StepContext): Input | undefined
  /** the install stages it contributes */
  stages?: readonly Stage[]
  /** once the install succeeded (after the switch): cleanup of what only the install needed */
  installed?(ctx: { data: WizardData, config: AppConfig, log: FastifyBaseLogger }): Promise<void>
  /**
   * The session's answers are dropped without an install (a dry run ended, a session replaced): removes what
   * the step kept on the server for the install (an uploaded backup). Never fails.
   */
  discard?(ctx: { data: WizardData, config: AppConfig, log: FastifyBaseLogger }): Promise<void>
  /** after a crash: puts back into the answers what the journal left out (a password, from the `.env`); false: ask again */
  resume?(data: WizardData, env: Record<string, string> | null): boolean
  /**
   * The form input its section of an answers file gives, for an install at first start from a file
   * (AMORCE_ANSWERS); secrets already read from the environment. Default: the section's own values, as the
   * fields' strings (true → "yes"). undefined: the step cannot be answered without the browser.
   */
  fromAnswers?(section: any, answers: Record<string, any>): Input | undefined
  /**
   * Its section of an answers file from its accepted answer ("Download these answers"): every secret (and
   * anything else to give at replay time) as `variable(NAME)`, a `${NAME}` placeholder listed beside the
   * download; a path under the data directory
   * as `place(path)` (relative where it can be). Default: its non-secret fields' values, each secret field
   * a placeholder. undefined: no section.
   */
  toAnswers?(ctx: StepContext, variable: (name: string) => string, place: (file: string) => string): unknown
  /** how the replay fills its page from its section of the answers file */
  replay?(ctx: ReplayContext): Promise<void>
  /** the JSON Schema of its section of the answers file (default: an object of its non-secret-free fields) */
  answers?: JsonSchema
  /** the section is required in an answers file */
  answersRequired?: boolean
}

/** Declares a step (a host's or Amorce's own): the identity function, typed, so a step module reads as data. */
export function defineStep<Id extends string> (step: Step<Id>): Step<Id> {
  return step
}
