// What every `amorce` command gets: the language (AMORCE_LANG, then the POSIX locale variables), a
// translator for locales/<lang>/cli.json, and two writers. Texts never live in the command modules.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TFunction } from 'i18next'
import { DEFAULT_LANGUAGE, isLanguage, translator, type Language } from '../i18n.ts'

/** Exit codes: 0 done, 1 something is wrong (named), 2 bad usage, 78 bad configuration (sysexits' EX_CONFIG). */
export const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const
/** What `start` returns: the server runs on, and its signal handlers end the process. */
export const KEEP_RUNNING = -1

/**
 * The package's package.json, whatever the working directory: the first one above this module, which sits at
 * server/cli/ in the sources and at dist/server/cli/ once compiled.
 */
function packageJson (): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json')
    if (existsSync(file)) return file
    if (path.dirname(dir) === dir) throw new Error('no package.json above the amorce command')
  }
}

export function packageVersion (): string {
  return JSON.parse(readFileSync(packageJson(), 'utf8')).version
}

/**
 * AMORCE_LANG wins; then the first of LC_ALL, LC_MESSAGES, LANG that is set decides, as POSIX says
 * (`fr_FR.UTF-8` → fr); C, POSIX or a language without texts fall back to English.
 */
export function cliLanguage (env: NodeJS.ProcessEnv): Language {
  for (const name of ['AMORCE_LANG', 'LC_ALL', 'LC_MESSAGES', 'LANG']) {
    const value = env[name]?.trim()
    if (!value) continue
    const lang = value.toLowerCase().split(/[_.@-]/)[0]
    if (isLanguage(lang)) return lang
    if (name !== 'AMORCE_LANG') return DEFAULT_LANGUAGE
  }
  return DEFAULT_LANGUAGE
}

export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean, setRawMode?: (mode: boolean) => unknown }
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

export interface CliContext {
  env: NodeJS.ProcessEnv
  cwd: string
  lang: Language
  t: TFunction
  io: CliIo
  /** The app's migrations folder (default: the app's prisma/<provider>/migrations); tests give a copy. */
  migrationsDir?: string
  /** `--app <module>`: the host's definition module (else package.json's `amorce.app`, else the reference app) */
  appModule?: string
  /** the app the command serves, loaded on first use */
  app(): Promise<import('./app.ts').LoadedApp>
  /** a line on stdout */
  out: (line?: string) => void
  /** a line on stderr */
  err: (line?: string) => void
}

export function cliContext (env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), io: CliIo = process): CliContext {
  const lang = cliLanguage(env)
  let loaded: Promise<import('./app.ts').LoadedApp> | undefined
  const ctx: CliContext = {
    env,
    cwd,
    lang,
    t: translator(lang),
    io,
    app: () => (loaded ??= import('./app.ts').then(m => m.loadApp(ctx.cwd, ctx.appModule))),
    out: (line = '') => { io.stdout.write(line + '\n') },
    err: (line = '') => { io.stderr.write(line + '\n') }
  }
  return ctx
}

/** A command's usage error: printed with the command's help hint, exit 2. */
export class UsageError extends Error {
  constructor (readonly key: string, readonly params: Record<string, unknown> = {}) {
    super(key)
  }
}

export interface ParsedArgs {
  positionals: string[]
  flags: Map<string, string | true>
}

/**
 * `--name value`, `--name=value` and bare `--flag`; `valued` lists the options that take a value.
 * Unknown options are a usage error, so a typo never runs a command with a default.
 */
export function parseArgs (argv: string[], options: { valued?: string[], flags?: string[] } = {}): ParsedArgs {
  const valued = new Set(options.valued ?? [])
  const flags = new Set([...(options.flags ?? []), 'help'])
  const result: ParsedArgs = { positionals: [], flags: new Map() }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') { result.positionals.push(...argv.slice(i + 1)); break }
    if (arg === '-h') { result.flags.set('help', true); continue }
    if (!arg.startsWith('--') || arg === '-') { result.positionals.push(arg); continue }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq === -1 ? undefined : eq)
    if (valued.has(name)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
      if (value === undefined || value === '') throw new UsageError('cli.errors.missingValue', { option: `--${name}` })
      result.flags.set(name, value)
    } else if (flags.has(name) && eq === -1) {
      result.flags.set(name, true)
    } else {
      throw new UsageError('cli.errors.unknownOption', { option: arg })
    }
  }
  return result
}
