// "Download these answers": a version-1 answers file of what the wizard's steps accepted, each section from
// its step (toAnswers, or its non-secret fields), every secret a `${NAME}` placeholder listed beside the
// file, paths under the data directory relative to the server's working directory where they can be.
// The file is checked against the registry's answers schema and against every secret the steps hold.
import path from 'node:path'
import type { Registry } from './registry.ts'
import type { StepContext } from './step.ts'

export interface ExportedAnswers {
  answers: Record<string, unknown>
  /** the environment variables the file's placeholders name, to set before a replay */
  variables: string[]
}

/**
 * A path as it may be written: relative to the working directory (where the steps resolve a relative path)
 * when it lies under the data directory and the working directory holds that; absolute otherwise.
 */
export function placePath (file: string, dataDir: string, cwd = process.cwd()): string {
  const abs = path.resolve(file)
  const under = (p: string, dir: string) => { const rel = path.relative(path.resolve(dir), p); return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) }
  return under(abs, dataDir) && under(abs, cwd) ? path.relative(cwd, abs) : abs
}

/** A placeholder name for a host step's secret field: DEPLOY_API_KEY for field apiKey of step deploy. */
function variableName (stepId: string, field: string): string {
  return `${stepId}_${field}`.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()
}

/** `steps`: the registry's, in its order (a registry or the definition's list: only the steps are read). */
export function exportAnswers (registry: Pick<Registry, 'steps'>, ctx: StepContext, cwd = process.cwd()): ExportedAnswers {
  const variables: string[] = []
  const variable = (name: string) => { if (!variables.includes(name)) variables.push(name); return `\${${name}}` }
  const place = (file: string) => placePath(file, ctx.config.dataDir, cwd)
  const answers: Record<string, unknown> = { version: 1 }
  for (const step of registry.steps) {
    if (step.final || !ctx.data.done.includes(step.id)) continue
    let section: unknown
    if (step.toAnswers) section = step.toAnswers(ctx, variable, place)
    else if (step.fields && Object.keys(step.fields).length > 0) {
      // A host step: its form's values for the accepted answer, each secret field a placeholder.
      const values = step.values(ctx)
      section = Object.fromEntries(Object.keys(step.fields).flatMap(name => step.fields?.[name]?.secret === true
        ? [[name, variable(variableName(step.id, name))]]
        : values[name] === undefined ? [] : [[name, values[name]]]))
    }
    if (section !== undefined) answers[step.id] = section
  }
  return { answers, variables }
}

/** Every form of a secret that must never be found in an exported file: as typed, URL-encoded, base64. */
export function secretForms (secret: string): string[] {
  if (secret.length < 4) return []
  return [...new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')])]
}
