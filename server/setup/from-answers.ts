// AMORCE_ANSWERS=answers.json at first start: the answers file (its ${NAME} values from the environment) read
// into each step's form input through the step's own fromAnswers, for the unattended install to submit
// through the same step code and checks as the wizard. Every problem carries its JSON path; no value is logged.
import path from 'node:path'
import { AnswersError, loadAnswers, type Problem } from '../replay/answers.ts'
import type { Registry } from './registry.ts'
import type { Input } from './step.ts'
import type { Presets } from './preset.ts'

export type AnswersInputs = { inputs: Presets, answers: Record<string, unknown>, problems: [] } | { inputs: null, answers: null, problems: Problem[] }

/** A step's default reading of its section: its own values, as the fields' strings. */
function plainInput (section: unknown): Input | undefined {
  if (section === undefined || section === null) return undefined
  if (typeof section !== 'object' || Array.isArray(section)) return undefined
  return Object.fromEntries(Object.entries(section).map(([k, v]) => [k, v === true ? 'yes' : v === false ? '' : String(v)]))
}

/** Reads the file and gives every step that has a section (or a reading of none) its form input. */
export async function answersInputs (registry: Registry, file: string, env: NodeJS.ProcessEnv, cwd = process.cwd()): Promise<AnswersInputs> {
  let answers: Record<string, unknown>
  try {
    answers = await loadAnswers(path.resolve(cwd, file), env, registry) as unknown as Record<string, unknown>
  } catch (err) {
    if (err instanceof AnswersError) return { inputs: null, answers: null, problems: err.problems }
    throw err
  }
  const inputs: Presets = {}
  const problems: Problem[] = []
  for (const step of registry.steps) {
    if (step.final) continue
    const section = answers[step.id]
    const input = step.fromAnswers ? step.fromAnswers(section, answers) : plainInput(section)
    if (input) inputs[step.id] = input
    else if (section !== undefined && section !== null) problems.push({ path: `$.${step.id}`, message: 'cannot be answered without the browser: use npm run replay' })
  }
  return problems.length > 0 ? { inputs: null, answers: null, problems } : { inputs, answers, problems: [] }
}

/**
 * Where in the answers file a step's field error points: the section's property of the field's name when
 * there is one (host, port, password…), else the section itself; `_form` is the section.
 */
export function answersPath (stepId: string, field: string, section: unknown): string {
  const own = field !== '_form' && section !== null && typeof section === 'object' && Object.hasOwn(section, field)
  return own ? `$.${stepId}.${field}` : `$.${stepId}`
}
