// Kept for imports written before the registry: the step contract and registry live in registry.ts.
export * from './registry.ts'
