// The answers file: JSON validated against the schema generated from the step registry (a section per step;
// answers.schema.json is a copy for editors, checked equal by a test), `${NAME}` values read from the
// environment. Every problem is reported with its JSON path before any browser starts.
import { readFile } from 'node:fs/promises'
import { Ajv } from 'ajv'
import type { ServerProvider } from '../db/engines/index.ts'
import { answersSchema, createRegistry, type Registry } from '../setup/registry.ts'

export interface Answers {
  version: 1
  language: 'en' | 'fr'
  database:
    | { provider: 'sqlite', file: string, multipleInstances?: boolean }
    | {
      provider: ServerProvider
      url?: string
      host?: string
      port?: number | string
      user?: string
      password?: string
      database?: string
      ssl?: 'off' | 'required' | 'verify'
      caFile?: string
      create?: boolean
      allowOtherTables?: boolean
      multipleInstances?: boolean
    }
  cache: { backend: 'memory' } | { backend: 'filesystem', dir: string } | { backend: 'redis', url: string, password?: string, allowNonEmpty?: boolean }
  /** file: uploaded from the replay's machine (relative to its cwd); path: already on the server */
  restore?: null | { file: string } | { path: string }
  /** keepRestored: sign in with a restored account (username/password) instead of adding one (email unused) */
  admin: { username: string, email?: string, password: string, keepRestored?: boolean }
  /** a host step's section, by its id */
  [step: string]: unknown
}

export interface Problem { path: string, message: string }

export class AnswersError extends Error {
  constructor (readonly problems: Problem[]) {
    super(problems.map(p => `${p.path}: ${p.message}`).join('\n'))
  }
}

/** The answers file's schema for Amorce's own steps (what answers.schema.json holds). */
export const schema = answersSchema(createRegistry())

/** A validator for the answers of this registry's steps (a host's steps included). */
export function answersValidator (registry: Registry) {
  return new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(answersSchema(registry))
}

function jsonPath (pointer: string): string {
  return '$' + pointer.split('/').slice(1).map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map(s => /^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`).join('')
}

/** Replaces every "${NAME}" string value by the environment's value; unknown names are problems. */
function substitute (value: unknown, env: NodeJS.ProcessEnv, pointer: string, problems: Problem[]): unknown {
  if (typeof value === 'string') {
    const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value)
    if (!m) return value
    const v = env[m[1]]
    if (v === undefined || v === '') {
      problems.push({ path: jsonPath(pointer), message: `environment variable ${m[1]} is not set` })
      return value
    }
    return v
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, `${pointer}/${i}`, problems))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, env, `${pointer}/${k}`, problems)]))
  }
  return value
}

export function parseAnswers (text: string, env: NodeJS.ProcessEnv = process.env, registry: Registry = createRegistry()): Answers {
  const validate = answersValidator(registry)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new AnswersError([{ path: '$', message: `not valid JSON: ${(err as Error).message}` }])
  }
  const problems: Problem[] = []
  const answers = substitute(raw, env, '', problems)
  if (!validate(answers)) {
    for (const e of validate.errors ?? []) {
      // `if` reports itself after the `then` that failed; the `then` error says more.
      if (e.keyword === 'if') continue
      const where = e.keyword === 'additionalProperties' ? `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}` : e.instancePath
      const message = e.keyword === 'additionalProperties' ? 'unknown property'
        : e.keyword === 'const' ? `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`
          : e.keyword === 'enum' ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map(v => JSON.stringify(v)).join(', ')}`
            : e.message ?? e.keyword
      problems.push({ path: jsonPath(where), message })
    }
  }
  // Keeping restored accounts needs a backup to restore: said here, before any browser starts.
  const parsed = answers as Partial<Answers>
  if (parsed.admin?.keepRestored === true && (parsed.restore === undefined || parsed.restore === null)) {
    problems.push({ path: '$.admin.keepRestored', message: 'needs a backup to restore ("restore": { "file": … })' })
  }
  if (problems.length > 0) {
    const seen = new Set<string>()
    throw new AnswersError(problems.filter(p => { const k = `${p.path} ${p.message}`; if (seen.has(k)) return false; seen.add(k); return true }))
  }
  return answers as Answers
}

export async function loadAnswers (file: string, env: NodeJS.ProcessEnv = process.env, registry: Registry = createRegistry()): Promise<Answers> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new AnswersError([{ path: '$', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }])
  }
  return parseAnswers(text, env, registry)
}
