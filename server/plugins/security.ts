// Security headers (helmet, a CSP without inline script) and CSRF protection on every
// state-changing request, in setup and normal mode alike. Registered after the session plugin.
import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'
import csrf from '@fastify/csrf-protection'
import type { FastifyRequest } from 'fastify'

/** The Content-Security-Policy: our own scripts and styles only, nothing inline, no framing. */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"]
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The CSRF token of a request: the form's `_csrf` (first one if repeated), else the usual headers. */
function csrfToken (req: FastifyRequest): string | undefined {
  const body = req.body as Record<string, unknown> | undefined
  const fromBody = body && typeof body === 'object' ? body._csrf : undefined
  const first = Array.isArray(fromBody) ? fromBody.find(v => typeof v === 'string') : fromBody
  if (typeof first === 'string') return first
  const header = req.headers['x-csrf-token'] ?? req.headers['csrf-token']
  return typeof header === 'string' ? header : undefined
}

export function isCsrfError (err: { code?: string }): boolean {
  return err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET'
}

export default fp(async function security (app) {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    referrerPolicy: { policy: 'no-referrer' },
    // No includeSubDomains: the administrator's other sites are not ours to commit to HTTPS.
    strictTransportSecurity: { maxAge: 180 * 86400, includeSubDomains: false },
    crossOriginEmbedderPolicy: false
  })
  // The secret lives in the server-side session; it changes whenever the session is regenerated
  // (token entered, login), so a token obtained before cannot be replayed after.
  await app.register(csrf, { sessionPlugin: '@fastify/session', getToken: csrfToken })

  // After body parsing (the token is a form field), before any handler or setup hook.
  app.addHook('preValidation', (req, reply, done) => {
    // Unknown addresses (and every /setup address once installed) answer 404 whatever the method.
    if (SAFE_METHODS.has(req.method) || req.is404) return done()
    app.csrfProtection(req, reply, done)
  })
}, { name: 'security', dependencies: ['@fastify/session'] })
