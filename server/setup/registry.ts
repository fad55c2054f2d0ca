// The wizard as data (after Discourse's wizard): one ordered registry of step modules per app instance.
// Navigation, the stepper, "first incomplete step", the install stages and the answers file's JSON Schema
// are all derived from it; a host adds a step by adding its module to the list it gives.
import { languageStep } from './steps/language.ts'
import { prerequisitesStep } from './steps/prerequisites.ts'
import { databaseStep } from './steps/database.ts'
import { cacheStep } from './steps/cache.ts'
import { restoreStep } from './steps/restore.ts'
import { adminStep } from './steps/admin.ts'
import { finalizeStep } from './steps/finalize.ts'
import type { JsonSchema, Stage, Step, WizardData } from './step.ts'

export * from './step.ts'

/** Amorce's own steps, in their order; a host writes `steps: [...defaultSteps, itsStep]`. */
export const defaultSteps = [languageStep, prerequisitesStep, databaseStep, cacheStep, restoreStep, adminStep, finalizeStep] as const

/** The ids of Amorce's own steps; a host step's id is any other string. */
export type DefaultStepId = typeof defaultSteps[number]['id']
export type StepId = DefaultStepId | (string & {})

export interface StepperItem { id: string, state: 'done' | 'current' | 'todo', reachable: boolean, index: number, namespace: string }

export interface Registry {
  readonly steps: readonly Step[]
  /** every install stage, in the order the journaled job runs them */
  readonly stages: readonly Stage[]
  find(id: string): Step | undefined
  index(id: string): number
  previous(id: string): Step | undefined
  next(id: string): Step | undefined
  firstIncomplete(data: WizardData): Step
  isReachable(id: string, data: WizardData): boolean
  markDone(data: WizardData, id: string, changed?: boolean): void
  stepper(current: string, data: WizardData): StepperItem[]
  /** the i18n namespace of a step's texts */
  namespace(step: Step): string
  /** the template of a step's page */
  template(step: Step): string
  /** whether a field of a step is secret (never shown, drafted, journaled) */
  isSecret(step: Step, field: string): boolean
}

/** Builds the registry from a host's step list: ids unique and URL-safe, the final step(s) last. */
export function createRegistry (given: readonly Step[] = defaultSteps): Registry {
  const seen = new Set<string>()
  for (const s of given) {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(s.id)) throw new Error(`step id "${s.id}": lowercase letters, digits and "-" only (it is a URL segment)`)
    if (seen.has(s.id)) throw new Error(`step id "${s.id}" is given twice`)
    seen.add(s.id)
  }
  // The summary (final) stays the last page whatever the order given: `[...defaultSteps, site]` puts site before it.
  const steps = [...given.filter(s => !s.final), ...given.filter(s => s.final)]
  const stages = orderStages(steps)
  const index = (id: string) => steps.findIndex(s => s.id === id)
  const isReachable = (id: string, data: WizardData) => steps.slice(0, index(id)).every(s => data.done.includes(s.id))
  const namespace = (step: Step) => step.namespace ?? `setup.${step.id}`
  return {
    steps,
    stages,
    find: id => steps.find(s => s.id === id),
    index,
    previous: id => index(id) > 0 ? steps[index(id) - 1] : undefined,
    next: id => index(id) >= 0 ? steps[index(id) + 1] : undefined,
    firstIncomplete: data => steps.find(s => !data.done.includes(s.id)) ?? steps[steps.length - 1],
    isReachable,
    /**
     * Marks a step done. When `changed` (its answer differs from before), the later steps are to be
     * accepted again: their checks may depend on it (several instances → Redis only; the database
     * engine → the backup's migration level). Their answers stay, so their pages come prefilled.
     */
    markDone (data, id, changed = false) {
      if (changed) data.done = data.done.filter(s => index(s) < index(id))
      if (!data.done.includes(id)) data.done.push(id)
    },
    stepper: (current, data) => steps.map((s, i) => ({
      id: s.id,
      index: i,
      namespace: namespace(s),
      state: s.id === current ? 'current' : data.done.includes(s.id) ? 'done' : 'todo',
      reachable: isReachable(s.id, data)
    })),
    namespace,
    template: step => step.template ?? `setup/${step.id}`,
    isSecret: (step, field) => step.fields?.[field]?.secret === true
  }
}

/** The stages of every step in registry order; a stage with `before` goes just before the stage it names. */
function orderStages (steps: readonly Step[]): Stage[] {
  const ordered: Stage[] = []
  const placedBefore: Stage[] = []
  for (const step of steps) {
    for (const stage of step.stages ?? []) (stage.before ? placedBefore : ordered).push(stage)
  }
  for (const stage of placedBefore) {
    const at = ordered.findIndex(s => s.id === stage.before)
    if (at < 0) throw new Error(`stage "${stage.id}" is to run before "${stage.before}", which no step contributes`)
    ordered.splice(at, 0, stage)
  }
  const ids = ordered.map(s => s.id)
  const twice = ids.find((id, i) => ids.indexOf(id) !== i)
  if (twice) throw new Error(`stage id "${twice}" is contributed twice`)
  return ordered
}

export function newWizardData (): WizardData {
  return { answers: {}, kept: {}, done: [], drafts: {} }
}

/** The answers alone, without progress, drafts or kept values: what later steps were checked against. */
export function answersSnapshot (data: WizardData): string {
  return JSON.stringify(data.answers)
}

/** A step's section of the answers file, from its own `answers` schema or else from its non-secret fields. */
function sectionSchema (step: Step): JsonSchema | undefined {
  if (step.answers) return step.answers
  const fields = Object.entries(step.fields ?? {})
  if (fields.length === 0) return undefined
  return { type: 'object', additionalProperties: false, properties: Object.fromEntries(fields.map(([name, f]) => [name, f.schema])) }
}

/**
 * The JSON Schema of an answers file (what `npm run replay` reads), generated from the registry: a section
 * per step that has answers, required where the step says so.
 */
export function answersSchema (registry: Registry): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    $schema: { type: 'string' },
    version: { const: 1, description: 'The answers format version.' }
  }
  const required = ['version']
  for (const step of registry.steps) {
    const section = sectionSchema(step)
    if (!section) continue
    properties[step.id] = section
    if (step.answersRequired) required.push(step.id)
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://amorce.dev/schemas/answers-v1.json',
    title: 'Amorce answers file, version 1',
    description: 'The answers `npm run replay` gives to the setup wizard. A string value "${NAME}" is read from the environment variable NAME, so secrets stay out of files.',
    type: 'object',
    additionalProperties: false,
    required,
    properties
  }
}
