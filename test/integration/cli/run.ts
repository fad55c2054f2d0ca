// Runs `amorce` for tests: in this process (main() with its own streams and environment, fast), or as the
// real command in a child process (for start, signals and exit codes as a shell sees them).
import { spawn } from 'node:child_process'
import path from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { main } from '../../../server/cli/index.ts'
import { cliContext, type CliIo } from '../../../server/cli/context.ts'
import { repoRoot, TSX } from '../../helpers/server.ts'

export const CLI = path.join(repoRoot, 'server/cli/index.ts')

export interface CliRun { code: number, out: string, err: string, all: string }

/** `amorce …argv` in this process, with `env` as its whole environment and `stdin` piped in. */
export async function runCli (argv: string[], env: NodeJS.ProcessEnv, cwd: string, options: { stdin?: string, migrationsDir?: string } = {}): Promise<CliRun> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  let all = ''
  stdout.on('data', d => { out += d; all += d })
  stderr.on('data', d => { err += d; all += d })
  const stdin = Readable.from(options.stdin === undefined ? [] : [options.stdin]) as unknown as CliIo['stdin']
  const ctx = cliContext({ AMORCE_LANG: 'en', ...env }, cwd, { stdin, stdout: stdout as unknown as CliIo['stdout'], stderr: stderr as unknown as CliIo['stderr'] })
  if (options.migrationsDir) ctx.migrationsDir = options.migrationsDir
  const code = await main(argv, ctx)
  return { code, out, err, all }
}

/** The real command in a child process (`node --import tsx server/cli/index.ts …`); killed after 2 min. */
export function spawnCli (argv: string[], env: NodeJS.ProcessEnv, cwd: string, stdin?: string): Promise<{ code: number | null, out: string }> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...argv], { cwd, env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.stdin.end(stdin ?? '')
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, out }) })
  })
}
