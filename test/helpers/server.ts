// Runs the real server as it ships (`node dist/server/main.js`, as `npm start` does) in a child
// process on a throwaway directory and a free port; stopped when the test ends. scripts/run-tests.mjs
// builds dist/ incrementally before any test runs, so what runs here is never stale.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { tempDir } from './tmp.ts'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
/** tsx's loader by absolute URL: the child runs in a temp directory, where `--import tsx` would not resolve. */
export const TSX = import.meta.resolve('tsx')

/** The compiled file for a source file: `server/main.ts` → `<repo>/dist/server/main.js`. */
export function compiled (source: string): string {
  return path.join(repoRoot, 'dist', source.replace(/\.ts$/, '.js'))
}

export interface RunningServer {
  url: string
  child: ChildProcess
  output: () => string
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

const STARTUP_DEADLINE_MS = 120_000

/** `args` replaces how node starts the app (default: as npm start does). */
export async function startServer (t: TestContext, env: NodeJS.ProcessEnv, cwd: string, args = [compiled('server/main.ts')]): Promise<RunningServer> {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_OPTIONS: '', ...env },
    // The IPC channel carries server/main.ts's "ready" message: the address it bound (PORT=0).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  let out = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { out += d })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited
  }
  t.after(() => stop('SIGKILL'))

  // A deadline only against a server that never gets there: a loaded machine can take a while.
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${STARTUP_DEADLINE_MS / 1000} s:\n${out}`)), STARTUP_DEADLINE_MS)
    child.on('message', (m: { amorce?: string, url?: string }) => {
      if (m?.amorce !== 'ready' || !m.url) return
      clearTimeout(timer)
      // The lines printed before the message are already in the stdout pipe (pipes are synchronous
      // on Linux): one turn of the event loop and they are in output() too.
      const url = m.url.replace('localhost', '127.0.0.1').replace(/\/$/, '')
      setImmediate(() => resolve(url))
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`server exited (${code}):\n${out}`)) })
  })
  return { url, child, output: () => out, stop }
}

/** A script's exit code and output: `out` both streams as they came, `stdout` and `stderr` each apart (a JSON report is stdout alone). */
export interface ScriptResult { code: number | null, out: string, stdout: string, stderr: string }

/** Runs one of the project's scripts (e.g. server/replay/cli.ts), compiled, as `npm run` does; killed after 9 min (a hang, not a slow machine). */
export function runScript (script: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<ScriptResult> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, [compiled(script), ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', d => { out += d; stdout += d })
    child.stderr!.on('data', d => { out += d; stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 540_000)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, out, stdout, stderr }) })
  })
}

/** `npm run replay -- …args` */
export function runReplay (args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<ScriptResult> {
  return runScript('server/replay/cli.ts', args, env, cwd)
}

/** A server started as `npm start` does on a new temp directory, for a replay with `browser`. */
export async function freshServer (t: TestContext, browser: string, dataFiles: Record<string, string> = {}): Promise<{ dir: string, env: NodeJS.ProcessEnv, server: RunningServer }> {
  const dir = await tempDir(t)
  const env = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), CHROMIUM_PATH: browser }
  // Files placed in DATA_DIR before the server starts (e.g. a chosen setup-token).
  if (Object.keys(dataFiles).length > 0) await mkdir(env.DATA_DIR, { recursive: true, mode: 0o700 })
  for (const [name, content] of Object.entries(dataFiles)) await writeFile(path.join(env.DATA_DIR, name), content, { mode: 0o600 })
  return { dir, env, server: await startServer(t, env, dir) }
}

/** Writes an answers file (secrets as `${ENV}` references) into `dir`; returns its path. */
export async function writeAnswers (dir: string, answers: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, 'answers.json')
  await writeFile(file, JSON.stringify({ version: 1, restore: null, ...answers }))
  return file
}
