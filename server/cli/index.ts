#!/usr/bin/env node
// The `amorce` command for operators: start, doctor, backup, restore, migrate, admin. Each command serves one app
// (`--app FILE`, package.json's `amorce.app`, else the reference app: server/cli/app.ts) and reads its
// configuration from the working directory (ENV_FILE, DATA_DIR, the environment), as `npm start` does; its
// texts are in locales/<lang>/cli.json.
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { ConfigError } from '../config/config.ts'
import { cliContext, EXIT, KEEP_RUNNING, packageVersion, parseArgs, UsageError, type CliContext } from './context.ts'

interface Command {
  /** one or two words; the longest match wins (`backup verify` before `backup`) */
  name: string
  /** cli.commands.<id>.{summary,usage,description} */
  id: string
  valued?: string[]
  flags?: string[]
  run: (ctx: CliContext, args: ReturnType<typeof parseArgs>) => Promise<number>
}

const COMMANDS: Command[] = [
  { name: 'start', id: 'start', run: async (ctx, args) => { noPositionals(args); const { runStart } = await import('./start.ts'); return runStart(ctx) } },
  { name: 'doctor', id: 'doctor', run: async (ctx, args) => { noPositionals(args); const { doctor } = await import('./doctor.ts'); return doctor(ctx) } },
  { name: 'backup', id: 'backup', valued: ['out'], run: async (ctx, args) => { noPositionals(args); const { backupCreate } = await import('./backup.ts'); return backupCreate(ctx, requiredOption(args, 'out')) } },
  { name: 'backup verify', id: 'backupVerify', run: async (ctx, args) => { const { backupVerify } = await import('./backup.ts'); return backupVerify(ctx, onePositional(args, 'FILE')) } },
  { name: 'restore', id: 'restore', run: async (ctx, args) => { const { restore } = await import('./backup.ts'); return restore(ctx, onePositional(args, 'FILE')) } },
  { name: 'migrate status', id: 'migrateStatus', run: async (ctx, args) => { noPositionals(args); const { migrateStatus } = await import('./migrate.ts'); return migrateStatus(ctx) } },
  { name: 'migrate deploy', id: 'migrateDeploy', valued: ['backup-out'], flags: ['no-backup'], run: async (ctx, args) => { noPositionals(args); const { migrateDeploy } = await import('./migrate.ts'); return migrateDeploy(ctx, { backup: !args.flags.has('no-backup'), backupOut: args.flags.get('backup-out') as string | undefined }) } },
  { name: 'dev', id: 'dev', valued: ['root'], run: async (ctx, args) => { const { runDev } = await import('./dev/index.ts'); return runDev(ctx, args) } },
  { name: 'admin reset-password', id: 'resetPassword', run: async (ctx, args) => { const { resetPassword } = await import('./admin.ts'); return resetPassword(ctx, onePositional(args, 'USERNAME')) } }
]

/** The app module named cannot serve (server/cli/app.ts): a configuration problem, exit 78. */
const APP_ERRORS = new Set(['cli.errors.appField', 'cli.errors.appNotLoaded', 'cli.errors.appInvalid'])

/** Groups that only have subcommands: `amorce migrate` alone shows their list. */
const GROUPS = ['migrate', 'admin']

function noPositionals (args: ReturnType<typeof parseArgs>): void {
  if (args.positionals.length > 0) throw new UsageError('cli.errors.unexpectedArgument', { argument: args.positionals[0] })
}

function onePositional (args: ReturnType<typeof parseArgs>, name: string): string {
  if (args.positionals.length === 0) throw new UsageError('cli.errors.missingArgument', { argument: name })
  if (args.positionals.length > 1) throw new UsageError('cli.errors.unexpectedArgument', { argument: args.positionals[1] })
  return args.positionals[0]
}

function requiredOption (args: ReturnType<typeof parseArgs>, name: string): string {
  const value = args.flags.get(name)
  if (typeof value !== 'string') throw new UsageError('cli.errors.missingOption', { option: `--${name}` })
  return value
}

function globalHelp (ctx: CliContext): void {
  const { t, out } = ctx
  out(t('cli.help.usage'))
  out()
  out(t('cli.help.commands'))
  const width = Math.max(...COMMANDS.map(c => t(`cli.commands.${c.id}.usage`).length))
  for (const c of COMMANDS) out(`  ${t(`cli.commands.${c.id}.usage`).padEnd(width)}  ${t(`cli.commands.${c.id}.summary`)}`)
  out()
  out(t('cli.help.options'))
  out()
  out(t('cli.help.environment'))
  out()
  out(t('cli.help.more'))
}

function commandHelp (ctx: CliContext, command: Command): void {
  const { t, out } = ctx
  out(`${t('cli.help.usagePrefix')} amorce ${t(`cli.commands.${command.id}.usage`)}`)
  out()
  out(t(`cli.commands.${command.id}.description`))
}

/** `--app FILE` (or `--app=FILE`) anywhere before `--`, taken out of the command line: it names the app served. */
function takeAppOption (argv: string[]): { argv: string[], app?: string } {
  const rest: string[] = []
  let app: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') { rest.push(...argv.slice(i)); break }
    if (arg === '--app' || arg.startsWith('--app=')) {
      const value = arg === '--app' ? argv[++i] : arg.slice('--app='.length)
      if (value === undefined || value === '') throw new UsageError('cli.errors.missingValue', { option: '--app' })
      app = value
    } else {
      rest.push(arg)
    }
  }
  return { argv: rest, app }
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main (argvGiven: string[], ctx: CliContext = cliContext()): Promise<number> {
  const { t, err } = ctx
  let argv: string[]
  try {
    const taken = takeAppOption(argvGiven)
    argv = taken.argv
    if (taken.app !== undefined) ctx.appModule = taken.app
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    err(t(error.key, error.params))
    err(t('cli.errors.seeHelp'))
    return EXIT.usage
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || (argv[0] === 'help' && argv.length === 1)) {
    globalHelp(ctx)
    return argv.length === 0 ? EXIT.usage : EXIT.ok
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    ctx.out(packageVersion())
    return EXIT.ok
  }
  const words = argv[0] === 'help' ? argv.slice(1) : argv
  const command = COMMANDS
    .filter(c => c.name.split(' ').every((w, i) => words[i] === w))
    .sort((a, b) => b.name.length - a.name.length)[0]
  if (!command) {
    if (GROUPS.includes(words[0])) {
      err(t('cli.errors.missingSubcommand', { group: words[0], choices: COMMANDS.filter(c => c.name.startsWith(`${words[0]} `)).map(c => c.name.split(' ')[1]).join(', ') }))
    } else {
      err(t('cli.errors.unknownCommand', { command: words[0] }))
    }
    err(t('cli.errors.seeHelp'))
    return EXIT.usage
  }
  if (argv[0] === 'help') {
    commandHelp(ctx, command)
    return EXIT.ok
  }
  const rest = argv.slice(command.name.split(' ').length)
  try {
    const args = parseArgs(rest, { valued: command.valued, flags: command.flags })
    if (args.flags.has('help')) {
      commandHelp(ctx, command)
      return EXIT.ok
    }
    return await command.run(ctx, args)
  } catch (error) {
    if (error instanceof UsageError && APP_ERRORS.has(error.key)) {
      // The app module named is wrong: not a usage mistake of this command.
      err(t(error.key, error.params))
      return EXIT.config
    }
    if (error instanceof UsageError) {
      err(t(error.key, error.params))
      err(`${t('cli.help.usagePrefix')} amorce ${t(`cli.commands.${command.id}.usage`)}`)
      return EXIT.usage
    }
    if (error instanceof ConfigError) {
      err(t('cli.errors.config', { detail: error.message }))
      return EXIT.config
    }
    throw error
  }
}

// Run when executed (the package's `bin` through its symlink, `npm run amorce`), not when imported by a test.
function executedDirectly (): boolean {
  if (!process.argv[1]) return false
  try { return pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url } catch { return false }
}

if (executedDirectly()) {
  const code = await main(process.argv.slice(2))
  // `start` keeps serving (-1): the process lives on until its signal handler exits.
  if (code !== KEEP_RUNNING) process.exitCode = code
}
