// Test fixtures: an app on a throwaway directory, and a client that keeps cookies across inject()s.
import path from 'node:path'
import type { TestContext } from 'node:test'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../server/app.ts'
import { tempDir } from './tmp.ts'

export { tempDir }

export interface Fixture {
  app: FastifyInstance
  dir: string
  env: NodeJS.ProcessEnv
}

/** Builds the app on its own DATA_DIR and ENV_FILE; closed when the test ends. */
export async function build (t: TestContext, opts: { dir?: string, env?: NodeJS.ProcessEnv } = {}): Promise<Fixture> {
  const dir = opts.dir ?? await tempDir(t)
  const env: NodeJS.ProcessEnv = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), LOG_LEVEL: 'silent', ...opts.env }
  const app = await buildApp({ env, cwd: dir, logger: false })
  t.after(() => app.close())
  return { app, dir, env }
}

/** The `_csrf` value of the last form in a page, if any. */
export function csrfOf (html: string): string | undefined {
  const all = [...html.matchAll(/name="_csrf" value="([^"]+)"/g)]
  return all.at(-1)?.[1]
}

/**
 * A browser-like client: remembers cookies, sends forms. Like a browser, it sends back the CSRF
 * token of the last page it saw; when it has none for its current session (first post, or the
 * session was regenerated), it first opens the form's own address to get one.
 */
export class Client {
  private readonly cookies = new Map<string, string>()
  /** the last CSRF token seen, with the session cookie it belongs to */
  private csrf?: { token: string, session: string | undefined }
  constructor (private readonly app: FastifyInstance, private readonly headers: Record<string, string> = {}) {}

  /** The CSRF token this client would send now (undefined when it must fetch one). */
  csrfToken (): string | undefined {
    return this.csrf && this.csrf.session === this.cookies.get('amorce.sid') ? this.csrf.token : undefined
  }

  /** Opens pages (following redirects) until one carries a CSRF token. */
  async fetchCsrf (url: string): Promise<string | undefined> {
    for (const start of [url.split('?')[0], '/setup/token', '/login']) {
      let next: string | undefined = start
      for (let hops = 0; next && hops < 6; hops++) {
        const res = await this.get(next)
        if (this.csrfToken()) return this.csrfToken()
        next = res.statusCode >= 300 && res.statusCode < 400 ? String(res.headers.location) : undefined
      }
    }
    return undefined
  }

  /** The Cookie header this client sends now. */
  cookieHeader (): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async request (opts: InjectOptions): Promise<LightMyRequestResponse> {
    const cookie = this.cookieHeader()
    const res = await this.app.inject({ ...opts, headers: { ...this.headers, ...(cookie ? { cookie } : {}), ...opts.headers } })
    for (const c of res.cookies as Array<{ name: string, value: string, maxAge?: number, expires?: Date }>) {
      if (c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name)
      else this.cookies.set(c.name, c.value)
    }
    const token = String(res.headers['content-type'] ?? '').startsWith('text/html') ? csrfOf(res.body) : undefined
    if (token) this.csrf = { token, session: this.cookies.get('amorce.sid') }
    return res
  }

  get (url: string, headers: Record<string, string> = {}) { return this.request({ method: 'GET', url, headers }) }

  /** Posts a form with this session's CSRF token added (unless the form sets `_csrf` itself). */
  async post (url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    const withCsrf = '_csrf' in form ? form : { ...form, _csrf: this.csrfToken() ?? await this.fetchCsrf(url) ?? '' }
    return this.postRaw(url, new URLSearchParams(withCsrf).toString(), headers)
  }

  /** Posts a body exactly as given: no CSRF token added. */
  postRaw (url: string, payload: string, headers: Record<string, string> = {}) {
    return this.request({ method: 'POST', url, payload, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } })
  }
}

/** A client that has entered the setup token. */
export async function authorizedClient (app: FastifyInstance, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client(app, headers)
  const res = await client.post('/setup/token', { token: app.amorce.setup!.token })
  if (res.statusCode !== 303) throw new Error(`token not accepted: ${res.statusCode}`)
  return client
}

export const STRONG_PASSWORD = 'Correct-Horse-Battery-Staple-42'

export interface WizardAnswersOptions {
  lang?: 'en' | 'fr'
  admin?: { username: string, email: string, password: string }
}

/** Valid answers for every step before the summary, in order: SQLite and a cache directory under `dir/data`. */
export function wizardAnswers (dir: string, opts: WizardAnswersOptions = {}): Array<[string, Record<string, string>]> {
  const admin = opts.admin ?? { username: 'admin', email: 'admin@example.com', password: STRONG_PASSWORD }
  return [
    ['language', { language: opts.lang ?? 'en' }],
    ['prerequisites', {}],
    ['database', { provider: 'sqlite', file: path.join(dir, 'data', 'app.db') }],
    ['cache', { backend: 'filesystem', dir: path.join(dir, 'data', 'cache') }],
    ['restore', { mode: 'fresh' }],
    ['admin', { ...admin, confirm: admin.password }]
  ]
}

/** Walks every step with valid answers up to the finalize summary. */
export async function walkToFinalize (client: Client, dir: string, lang: 'en' | 'fr' = 'en'): Promise<void> {
  for (const [step, form] of wizardAnswers(dir, { lang })) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    if (res.statusCode !== 303) throw new Error(`step ${step} refused (${res.statusCode}): ${res.body.match(/class="error"[^>]*>([^<]*)/)?.[1] ?? res.body.slice(0, 300)}`)
  }
}

/** A response body with HTML entities decoded, for matching the text a person reads. */
export function text (res: { body: string }): string {
  return res.body.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_m, e: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
    if (e[0] !== '#') return named[e.toLowerCase()]
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
  })
}
