// Setup mode's state on one app instance (app.amorce.wizard): its step registry, its install job and its
// wrong-token counters. Never module-level: two Amorce apps in one process each have their own.
import type { FastifyInstance } from 'fastify'
import type { FinalizeJob } from './finalize.ts'
import { createRegistry, type Registry } from './registry.ts'
import { FailureLimiter } from './token.ts'

export interface WizardState {
  registry: Registry
  /** the running (or last) install of this instance */
  job?: FinalizeJob
  /** wrong setup tokens per client address */
  tokenFailures: FailureLimiter
  /** every setup route as registered, with its schema: lets a test prove each one declares its input */
  routeSchemas: Array<{ method: string, url: string, schema: { body?: unknown, querystring?: unknown } }>
}

/** This instance's wizard state, made on first use from the app's definition (its steps). */
export function wizardState (app: FastifyInstance): WizardState {
  app.amorce.wizard ??= { registry: createRegistry(app.amorce.definition.steps), tokenFailures: new FailureLimiter(), routeSchemas: [] }
  return app.amorce.wizard
}
