// Admin passwords: strength estimated by zxcvbn-ts (dictionaries for en and fr, the user's own
// name and email as hints), hashed with argon2id. Feedback comes back as i18n keys (password.*).
import { createRequire } from 'node:module'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'

/** argon2's native module, loaded at the first hash or sign-in rather than at every start. */
const argon2 = () => import('@node-rs/argon2')

export const MIN_PASSWORD_LENGTH = 10
export const MAX_PASSWORD_LENGTH = 256
/** zxcvbn score 0..4; 3 = "safely unguessable: moderate protection from offline slow-hash scenario". */
export const MIN_SCORE = 3

// The dictionaries weigh some 70 MB once loaded and only the wizard's admin step (or an operator's
// password reset) needs them: they live in a worker thread, started on first use or ahead of it
// (preparePasswordCheck, when the admin page is shown), and ended after a while without checks,
// which gives their memory back. A check is asynchronous: the server goes on answering other requests
// while the worker loads its dictionaries or estimates (waiting for it on the main thread blocked the
// event loop for seconds on a busy host, long enough for a cache command's timeout to fire first).
const DEFAULT_IDLE_MS = 120_000
/** The first check after a cold start waits for the dictionaries (a few seconds on a slow host). */
const CHECK_TIMEOUT_MS = 60_000

interface StrengthRequest { password: string, hints: string[] }
type StrengthAnswer = { score: number, warning: string | null, suggestions: string[] } | { error: string }

// The worker's program, plain JavaScript run as is by a source checkout (tsx) and a compiled build alike.
// Each message on `port` is a StrengthRequest; the StrengthAnswer is posted back on the same port, in the
// order asked. Feedback comes back as keys (every translation maps a key to itself), which password.* localizes.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads')
const { port, modules } = workerData
let estimator, loadError
try {
  const { ZxcvbnFactory } = require(modules.core)
  const common = require(modules.common), en = require(modules.en), fr = require(modules.fr)
  const identity = o => Object.fromEntries(Object.keys(o).map(k => [k, k]))
  estimator = new ZxcvbnFactory({
    translations: { ...en.translations, warnings: identity(en.translations.warnings), suggestions: identity(en.translations.suggestions) },
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary, ...Object.fromEntries(Object.entries(fr.dictionary).map(([k, v]) => ['fr_' + k, v])) }
  })
  // One check at once warms what the first one builds (and the JIT), so a prepared check is quick.
  estimator.check('warm-up password 1', [])
} catch (err) {
  loadError = err.message
}
port.on('message', ({ password, hints }) => {
  let answer
  try {
    if (!estimator) throw new Error('the password strength estimator could not be loaded: ' + loadError)
    const result = estimator.check(password, hints)
    answer = { score: result.score, warning: result.feedback.warning, suggestions: result.feedback.suggestions }
  } catch (err) {
    answer = { error: err.message }
  }
  port.postMessage(answer)
})
`

interface Waiting { resolve: (answer: StrengthAnswer) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }
/** `waiting`: the checks asked and not yet answered, oldest first (the worker answers in order). */
interface Checker { worker: Worker, port: MessagePort, idleMs: number, idle?: NodeJS.Timeout, waiting: Waiting[] }
let checker: Checker | undefined

/** Idle from now: ended after `idleMs` without a check (never while a check waits: its answer re-arms this). */
function keepAlive (c: Checker): void {
  clearTimeout(c.idle)
  c.idle = setTimeout(() => { if (c.waiting.length === 0) void stop(c) }, c.idleMs).unref()
}

function stop (c: Checker, why = 'the password strength check ended'): Promise<void> {
  if (checker === c) checker = undefined
  clearTimeout(c.idle)
  for (const w of c.waiting.splice(0)) { clearTimeout(w.timer); w.reject(new Error(why)) }
  c.port.close()
  return c.worker.terminate().then(() => {})
}

function startChecker (idleMs?: number): Checker {
  if (checker) {
    if (idleMs !== undefined) checker.idleMs = idleMs
    keepAlive(checker)
    return checker
  }
  const { port1, port2 } = new MessageChannel()
  // Resolved here, where the app's node_modules are known (an eval'd worker resolves from the cwd).
  const require = createRequire(import.meta.url)
  const modules = Object.fromEntries(['core', 'common', 'en', 'fr'].map(m => [m, require.resolve(m === 'core' ? '@zxcvbn-ts/core' : `@zxcvbn-ts/language-${m}`)]))
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, modules }, transferList: [port2] })
  worker.unref() // never what keeps the process alive
  const c: Checker = { worker, port: port1, idleMs: idleMs ?? DEFAULT_IDLE_MS, waiting: [] }
  port1.on('message', (answer: StrengthAnswer) => {
    const w = c.waiting.shift()
    if (!w) return
    clearTimeout(w.timer)
    w.resolve(answer)
  })
  // The port listens only while a check waits: an idle checker never keeps the process alive.
  port1.unref()
  // A worker that dies fails the checks waiting on it; the next check starts another.
  worker.on('error', () => {})
  worker.once('exit', () => { if (checker === c) void stop(c, 'the password strength check stopped') })
  checker = c
  keepAlive(c)
  return c
}

/** Starts loading the dictionaries now, so that the check that follows does not wait for them. */
export function preparePasswordCheck (idleMs?: number): void {
  startChecker(idleMs)
}

/** Ends the strength checker now (its memory is given back); the next check starts it again. */
export async function releasePasswordCheck (): Promise<void> {
  if (checker) await stop(checker)
}

/** Whether the strength checker (and its dictionaries) is loaded. */
export function passwordCheckLoaded (): boolean {
  return checker !== undefined
}

function estimate (password: string, hints: string[]): Promise<Exclude<StrengthAnswer, { error: string }>> {
  const c = startChecker()
  return new Promise<StrengthAnswer>((resolve, reject) => {
    const timer = setTimeout(() => { void stop(c, 'the password strength check did not answer') }, CHECK_TIMEOUT_MS)
    c.waiting.push({ resolve, reject, timer })
    c.port.ref()
    c.port.postMessage({ password, hints } satisfies StrengthRequest)
  }).then(reply => {
    if (c.waiting.length === 0) c.port.unref()
    keepAlive(c)
    if ('error' in reply) throw new Error(reply.error)
    return reply
  })
}

export interface PasswordVerdict {
  ok: boolean
  score: number
  /** i18n keys with params, the first is the main reason */
  reasons: Array<{ key: string, params?: Record<string, unknown> }>
}

export async function checkPasswordStrength (password: string, userInputs: string[] = []): Promise<PasswordVerdict> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return { ok: false, score: 0, reasons: [{ key: 'password.tooShort', params: { min: MIN_PASSWORD_LENGTH } }] }
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    return { ok: false, score: 0, reasons: [{ key: 'password.tooLong', params: { max: MAX_PASSWORD_LENGTH } }] }
  }
  // Emails count as hints by their parts too: "jane.doe@x.org" → "jane", "doe", "x".
  const hints = userInputs.flatMap(s => [s, ...s.split(/[^\p{L}\p{N}]+/u)]).filter(s => s.length >= 3)
  const result = await estimate(password, hints)
  if (result.score >= MIN_SCORE) return { ok: true, score: result.score, reasons: [] }
  const reasons: PasswordVerdict['reasons'] = [{ key: 'password.tooWeak' }]
  if (result.warning) reasons.push({ key: `password.warnings.${result.warning}` })
  for (const s of result.suggestions) reasons.push({ key: `password.suggestions.${s}` })
  return { ok: false, score: result.score, reasons }
}

// OWASP's argon2id baseline (19 MiB, 2 iterations, 1 lane): strong and still fast on a shared host.
const ARGON2_OPTIONS = { algorithm: 2 /* Argon2id */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const

// Tests where hashing is not the point (AMORCE_TEST_FAST_HASH=1, set by `npm test`) hash at
// argon2id's lowest cost. Honoured only inside node's test runner (NODE_TEST_CONTEXT) and never with
// NODE_ENV=production; a hash carries its own parameters, so verifying is the same either way.
const TEST_ONLY_FAST_OPTIONS = { algorithm: 2, memoryCost: 1024, timeCost: 1, parallelism: 1 } as const
export function fastTestHashing (env: NodeJS.ProcessEnv = process.env): boolean {
  return env.AMORCE_TEST_FAST_HASH === '1' && env.NODE_TEST_CONTEXT !== undefined && env.NODE_ENV !== 'production'
}

export async function hashPassword (password: string): Promise<string> {
  const { hash } = await argon2()
  return hash(password, fastTestHashing() ? TEST_ONLY_FAST_OPTIONS : ARGON2_OPTIONS)
}

export async function verifyPassword (passwordHash: string, password: string): Promise<boolean> {
  try {
    const { verify } = await argon2()
    return await verify(passwordHash, password)
  } catch {
    return false // malformed hash: never a match
  }
}
