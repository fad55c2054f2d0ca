// The package's public entry (`import amorce, { createServer, start } from 'amorce'`): the Fastify plugin, the
// server factory and start, the types a host writes its definition with, the few helpers a host's normal
// mode needs (passwords) — all of server/core.ts — and the wizard's default steps. Everything else under
// dist/ is internal and may change in any release.
export * from './core.ts'
export { default } from './core.ts'
// The wizard's steps: Amorce's own, in order, and the contract a host's step is written to.
export { defaultSteps, defineStep } from './setup/registry.ts'

/**
 * Types a host names for its own app, by declaration merging:
 * `declare module 'amorce' { interface AmorceTypes { db: PrismaClient } }` makes `fastify.amorce.db` its client.
 */
export interface AmorceTypes {}
