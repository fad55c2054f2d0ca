// Kept for imports written before the registry: the step contract and registry live in registry.ts.
import { defaultSteps } from './registry.ts'

export * from './registry.ts'
/** Amorce's own steps (the registry's defaultSteps). */
export const STEPS = defaultSteps
