// Many servers at once: the servers to replay (repeated --url, or a --servers file of URLs with their setup
// tokens), each one's token, and the replays run concurrently in one browser (a context per server) with a
// bound, every server to its end whatever the others do.
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Browser } from 'playwright-core'
import type { Answers } from './answers.ts'
import type { TFunction } from 'i18next'
import type { Registry } from '../setup/registry.ts'
import { launchChromium, replay, ReplayError, type DryRunOutcome, type ProgressReport, type StepReport } from './replay.ts'
import { dryRunReport, round, type KeyedLine, type ServerOutcome, type StepOutcome } from './report.ts'

/**
 * How many replays at once by default. A replay mostly waits on its server (password hashing, migrations),
 * and each context adds one renderer to the shared browser: one more than the cores keeps a 2-core machine
 * busy without making each replay crawl.
 */
export function defaultConcurrency (cores = os.availableParallelism()): number {
  return Math.max(2, Math.min(8, cores + 1))
}

/** A server as the operator named it: where, and where its token comes from (nothing of it resolved yet). */
export interface ServerEntry {
  url: string
  /** a label for the table; default: the URL without credentials */
  name?: string
  token?: string
  tokenFile?: string
  /** a local server's data directory, where its setup-token is */
  dataDir?: string
  /** an answers file of its own instead of the command's (a path relative to the servers file) */
  answers?: string
  /** values for the `${NAME}` placeholders of the answers, for this server only */
  variables?: Record<string, string>
}

/** A problem of a servers file: where (a JSON path, or "line 3"), and what, as an i18n key (replay.servers.*). */
export interface ServersProblem { path: string, key: string, params?: Record<string, string> }

export class ServersFileError extends Error {
  constructor (readonly problems: ServersProblem[]) {
    super(problems.map(p => `${p.path}: ${p.key}`).join('\n'))
  }
}

const ENTRY_KEYS = new Set(['url', 'name', 'token', 'tokenFile', 'dataDir', 'answers', 'variables'])

/**
 * A servers file: JSON (an array of entries, or `{ "servers": [...] }`), or text with one server a line,
 * `<url> [<token>]` (a token may be `${NAME}`, read from the environment); blank lines and `#` comments are
 * skipped. Relative paths in it (tokenFile, dataDir, answers) are taken from the file's directory.
 */
export function parseServersFile (text: string, file: string): ServerEntry[] {
  const dir = path.dirname(path.resolve(file))
  const problems: ServersProblem[] = []
  let entries: ServerEntry[]
  const trimmed = text.trim()
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let raw: unknown
    try { raw = JSON.parse(trimmed) } catch (err) { throw new ServersFileError([{ path: '$', key: 'replay.servers.notJson', params: { error: (err as Error).message } }]) }
    const list = Array.isArray(raw) ? raw : (raw as { servers?: unknown }).servers
    const at = Array.isArray(raw) ? '$' : '$.servers'
    if (!Array.isArray(list)) throw new ServersFileError([{ path: '$.servers', key: 'replay.servers.notArray' }])
    entries = list.map((e, i) => checkEntry(e, `${at}[${i}]`, problems))
  } else {
    entries = []
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/(^|\s)#.*$/, '').trim()
      if (line === '') return
      const [url, token, ...rest] = line.split(/\s+/)
      if (rest.length > 0) problems.push({ path: `line ${i + 1}`, key: 'replay.servers.lineFormat' })
      entries.push(checkEntry(token === undefined ? { url } : { url, token }, `line ${i + 1}`, problems))
    })
  }
  // A line's problems are said of the line: its parts have no names.
  for (const p of problems) p.path = p.path.replace(/^(line \d+)\..*$/, '$1')
  if (entries.length === 0 && problems.length === 0) problems.push({ path: '$', key: 'replay.servers.empty' })
  if (problems.length > 0) throw new ServersFileError(problems)
  return entries.map(e => ({
    ...e,
    ...(e.tokenFile !== undefined && { tokenFile: path.resolve(dir, e.tokenFile) }),
    ...(e.dataDir !== undefined && { dataDir: path.resolve(dir, e.dataDir) }),
    ...(e.answers !== undefined && { answers: path.resolve(dir, e.answers) })
  }))
}

function checkEntry (value: unknown, where: string, problems: ServersProblem[]): ServerEntry {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ path: where, key: 'replay.servers.notObject' })
    return { url: '' }
  }
  const entry = value as Record<string, unknown>
  for (const k of Object.keys(entry)) if (!ENTRY_KEYS.has(k)) problems.push({ path: `${where}.${k}`, key: 'replay.servers.unknownProperty' })
  if (typeof entry.url !== 'string' || !URL.canParse(entry.url) || !/^https?:$/.test(new URL(entry.url).protocol)) {
    problems.push({ path: `${where}.url`, key: 'replay.servers.url' })
  }
  for (const k of ['name', 'token', 'tokenFile', 'dataDir', 'answers']) {
    if (entry[k] !== undefined && (typeof entry[k] !== 'string' || entry[k] === '')) problems.push({ path: `${where}.${k}`, key: 'replay.servers.nonEmpty' })
  }
  if (entry.token !== undefined && entry.tokenFile !== undefined) problems.push({ path: `${where}.token`, key: 'replay.servers.tokenOrFile' })
  if (entry.variables !== undefined) {
    const vars = entry.variables
    if (!vars || typeof vars !== 'object' || Array.isArray(vars)) problems.push({ path: `${where}.variables`, key: 'replay.servers.variables' })
    else for (const [k, v] of Object.entries(vars)) if (typeof v !== 'string') problems.push({ path: `${where}.variables.${k}`, key: 'replay.servers.variables' })
  }
  return entry as unknown as ServerEntry
}

export function isLocal (url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(url.hostname) || url.hostname.startsWith('127.')
}

/** The URL as a table shows it: no credentials, no query, no trailing slash. */
export function displayName (url: string): string {
  const u = new URL(url)
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`
}

/** What the command line says about tokens, for every server that names none of its own. */
export interface TokenDefaults {
  /** --token (visible in process lists) */
  token?: string
  /** --token-file */
  tokenFile?: string
  /** --data-dir, DATA_DIR or ./data: where a local server's setup-token is */
  dataDir: string
  env: NodeJS.ProcessEnv
}

/** A token that cannot be found: an i18n key (replay.token.*) and its params, which name files, never a token. */
export class TokenError extends Error {
  constructor (readonly key: string, readonly params: Record<string, string>) {
    super(`${key} ${JSON.stringify(params)}`)
  }
}

/**
 * A server's token, in this order: its own (token, `${NAME}` from the environment, tokenFile), then --token,
 * SETUP_TOKEN, --token-file, then a local server's `<data-dir>/setup-token`. Whatever its first character:
 * a token may start with "-".
 */
export async function resolveToken (entry: ServerEntry, defaults: TokenDefaults): Promise<string> {
  const server = displayName(entry.url)
  if (entry.token !== undefined) {
    const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(entry.token)
    if (!m) return entry.token
    const v = defaults.env[m[1]]?.trim()
    if (!v) throw new TokenError('replay.token.envUnset', { name: m[1], server })
    return v
  }
  if (entry.tokenFile === undefined) {
    if (defaults.token) return defaults.token
    if (defaults.env.SETUP_TOKEN) return defaults.env.SETUP_TOKEN.trim()
  }
  const given = entry.tokenFile ?? defaults.tokenFile
  const file = given ?? (isLocal(new URL(entry.url)) || entry.dataDir !== undefined ? path.join(entry.dataDir ?? defaults.dataDir, 'setup-token') : undefined)
  if (!file) throw new TokenError('replay.token.remote', { server })
  let token: string
  try {
    token = (await readFile(file, 'utf8')).trim()
  } catch {
    throw new TokenError(given ? 'replay.token.unreadable' : 'replay.token.noLocal', { file, server })
  }
  if (token === '') throw new TokenError('replay.token.empty', { file, server })
  return token
}

/**
 * Runs `fn` on every item, at most `limit` at a time, in order of the list; resolves once all are done,
 * with their results in the list's order. `fn` is expected not to throw (a rejection stops nothing else,
 * but is re-thrown once all are done).
 */
export async function pool<T, R> (items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  const errors: unknown[] = []
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      try { results[i] = await fn(items[i], i) } catch (err) { errors.push(err) }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  if (errors.length > 0) throw errors[0]
  return results
}

/** A server ready to replay: everything resolved. */
export interface Target {
  name: string
  url: string
  token: string
  answers: Answers
}

export interface FleetOptions {
  concurrency: number
  chromiumPath: string
  screenshotDir?: string
  /** the steps of the app the servers run (a host's own among them); default: Amorce's own */
  registry?: Registry
  /** the app's texts, by language (its own steps' labels among them) */
  translate?: (lang: string) => TFunction
  /** the key and telling line of a page's message (report.ts messageIndex) */
  keyOf: (message: string) => KeyedLine | null
  /** dry runs (replay.ts dryRun): each outcome carries its server's verdict and plan */
  dryRun?: boolean
  onStart?: (target: Target) => void
  onStep?: (target: Target, report: StepReport) => void
  onProgress?: (target: Target, report: ProgressReport) => void
  onDone?: (target: Target, outcome: ServerOutcome) => void
  /** tests: a browser of their own */
  browser?: Browser
  /** tests: replaces the replay of one server */
  replayOne?: typeof replay
}

/**
 * Replays every target, `concurrency` at a time, in one browser; each ends in an outcome, a failure
 * included: none stops the others. The browser is launched once and closed at the end.
 */
export async function replayFleet (targets: Target[], opts: FleetOptions): Promise<ServerOutcome[]> {
  const run = opts.replayOne ?? replay
  let browser: Browser | undefined = opts.browser
  let launchError: Error | undefined
  if (!browser && !opts.replayOne) {
    try { browser = await launchChromium(opts.chromiumPath) } catch (err) { launchError = err as Error }
  }
  try {
    return await pool(targets, opts.concurrency, async target => {
      opts.onStart?.(target)
      const steps: StepOutcome[] = []
      const started = performance.now()
      let dryRun: DryRunOutcome | undefined
      const outcome = (status: ServerOutcome['status'], failed?: { step: string, message: string, screenshot?: string }): ServerOutcome => {
        const keyed = failed ? opts.keyOf(failed.message) : null
        if (failed) steps.push({ name: failed.step, status: 'failed', seconds: round((performance.now() - started) / 1000 - steps.reduce((n, s) => n + s.seconds, 0)), messageKey: keyed?.key ?? null, message: failed.message })
        return {
          name: target.name,
          url: target.url,
          status,
          seconds: round((performance.now() - started) / 1000),
          failedStep: failed?.step ?? null,
          messageKey: keyed?.key ?? null,
          message: failed?.message ?? null,
          screenshot: failed?.screenshot ?? null,
          steps,
          ...(opts.dryRun && { dryRun: dryRunReport(dryRun) })
        }
      }
      let result: ServerOutcome
      if (launchError) {
        result = outcome('failed', { step: 'browser', message: launchError.message.split('\n')[0] })
      } else {
        try {
          await run({
            answers: target.answers,
            url: target.url,
            token: target.token,
            chromiumPath: opts.chromiumPath,
            browser,
            screenshotDir: opts.screenshotDir,
            registry: opts.registry,
            translate: opts.translate,
            dryRun: opts.dryRun,
            onDryRun: o => { dryRun = o },
            onStep: r => {
              steps.push({ name: r.step, status: 'ok', seconds: round(r.ms / 1000), messageKey: null, message: null })
              opts.onStep?.(target, r)
            },
            onProgress: p => opts.onProgress?.(target, p)
          })
          result = outcome('ok')
        } catch (err) {
          result = err instanceof ReplayError
            ? outcome('failed', { step: err.step, message: err.message, screenshot: err.screenshot })
            : outcome('failed', { step: 'start', message: err instanceof Error ? err.message.split('\n')[0] : String(err) })
        }
      }
      opts.onDone?.(target, result)
      return result
    })
  } finally {
    if (browser && !opts.browser) await browser.close()
  }
}
