// What the platform's environment already answers (after Nextcloud's autoconfig): each step names the
// environment keys that preset it (DATABASE_*, CACHE_*, APP_LOCALE, ADMIN_*… and a host step's own). The
// wizard shows those steps as "set by the environment" (read-only) and never writes their keys to .env.
import type { AppConfig } from '../config/config.ts'
import type { Registry } from './registry.ts'
import type { Input } from './step.ts'

export type Presets = Partial<Record<string, Input>>

/** The form input each step would receive, built from the real environment only (never .env). */
export function presetInputs (registry: Registry, config: AppConfig, env: NodeJS.ProcessEnv): Presets {
  const presets: Presets = {}
  for (const step of registry.steps) {
    const input = step.preset?.input(env, config)
    if (input) presets[step.id] = input
  }
  return presets
}

/** Everything a first start needs is given: every step has a preset or a plain default, so install without the browser. */
export function isUnattended (registry: Registry, presets: Presets): boolean {
  return registry.steps.filter(s => !s.final).every(s => presets[s.id] !== undefined || s.unattended !== undefined)
}

/** The .env entries the wizard may write: keys the real environment sets stay out of the file. */
export function withoutEnvironmentKeys (entries: Record<string, string>, config: AppConfig): Record<string, string> {
  const from = new Set(config.fromEnvironment)
  return Object.fromEntries(Object.entries(entries).filter(([key]) => !from.has(key)))
}
