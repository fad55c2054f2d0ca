// Benchmark: how long a full install takes through the real UI, side by side with WordPress's own installer.
// `npm run bench:replay [-- --runs 3] [--engines sqlite,mysql] [--language en] [--server dist/server/main.js]
//   [--wordpress <script> | --no-wordpress]`; WordPress's script is by default ../shared/bench/wordpress-install.mjs
//   beside this checkout, or beside the main checkout when this one is a git worktree (BENCH_WORDPRESS overrides)
// Each run, for each engine: a fresh data directory (and a fresh MariaDB database), the server started, a
// headless replay of the wizard up to a signed-in dashboard; then WordPress's installer driven the same way
// (Chromium through playwright-core, from the browser's launch to the signed-in dashboard), so the runs of
// both alternate on the same machine. Prints each run's time per step (with the server's CPU time in each),
// the medians, and the ratios Amorce/WordPress. Talks only to 127.0.0.1.
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import mariadb from 'mariadb'
import { parseAnswers } from '../server/replay/answers.ts'
import { findChromium, replay } from '../server/replay/replay.ts'

const root = fileURLToPath(new URL('../', import.meta.url))
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'sqlite,mysql' },
    language: { type: 'string', default: 'en' },
    server: { type: 'string' },
    wordpress: { type: 'string' },
    'no-wordpress': { type: 'boolean', default: false },
    'mysql-url': { type: 'string', default: process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306' }
  }
})
const runs = Math.max(1, Math.min(20, Number(values.runs) || 3))
const ENGINES = ['sqlite', 'mysql'] as const
type Engine = typeof ENGINES[number]
const engines = values.engines.split(',').map(s => s.trim()).filter(Boolean) as Engine[]
for (const e of engines) {
  if (!(ENGINES as readonly string[]).includes(e)) {
    console.error(`--engines: unknown engine ${e} (known: ${ENGINES.join(', ')})`)
    process.exit(2)
  }
}
const language = values.language === 'fr' ? 'fr' : 'en'
const ADMIN_PASSWORD = 'Bench-Lanterne-Ardoise-42'

// What runs the server: the compiled build when there is one (what `npm start` runs), else the sources.
const serverEntry = path.resolve(root, values.server ?? (existsSync(path.join(root, 'dist/server/main.js')) ? 'dist/server/main.js' : 'server/main.ts'))
const serverArgs = serverEntry.endsWith('.ts') ? ['--import', 'tsx', serverEntry] : [serverEntry]

const CLK_TCK = 100 // Linux's USER_HZ
/** The process's user + system CPU time so far, in ms (Linux). */
function cpuMs (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / CLK_TCK
  } catch {
    return NaN
  }
}
async function statusKiB (pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
}

/** One step of a run: wall time, and the server's CPU time during it (Amorce only). */
interface Lap { step: string, ms: number, serverCpuMs?: number }
interface RunResult { totalMs: number, laps: Lap[], startMs?: number, setupRss?: number, afterRss?: number, peakRss?: number }

interface MysqlDatabase { url: string, drop: () => Promise<void> }

/** A fresh database and account, as WordPress's script makes its own: the wizard is given them. */
async function createMysqlDatabase (): Promise<MysqlDatabase> {
  const admin = new URL(values['mysql-url'])
  const conn = await mariadb.createConnection({ host: admin.hostname, port: Number(admin.port || 3306), user: decodeURIComponent(admin.username), password: decodeURIComponent(admin.password), connectTimeout: 5000 })
  const name = `amorce_bench_${process.pid}_${randomBytes(3).toString('hex')}`
  const password = randomBytes(12).toString('base64url')
  try {
    await conn.query(`CREATE DATABASE \`${name}\``)
    await conn.query(`CREATE USER '${name}'@'127.0.0.1' IDENTIFIED BY '${password}'`)
    await conn.query(`GRANT ALL ON \`${name}\`.* TO '${name}'@'127.0.0.1'`)
  } finally {
    await conn.end()
  }
  return {
    url: `mysql://${name}:${password}@127.0.0.1:${admin.port || 3306}/${name}`,
    async drop () {
      const c = await mariadb.createConnection({ host: admin.hostname, port: Number(admin.port || 3306), user: decodeURIComponent(admin.username), password: decodeURIComponent(admin.password), connectTimeout: 5000 })
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
        await c.query(`DROP USER IF EXISTS '${name}'@'127.0.0.1'`)
      } finally {
        await c.end()
      }
    }
  }
}

async function amorceRun (engine: Engine, chromiumPath: string): Promise<RunResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-bench-'))
  const db = engine === 'mysql' ? await createMysqlDatabase() : undefined
  const started = performance.now()
  const child = spawn(process.execPath, serverArgs, {
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  try {
    let out = ''
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', d => {
        out += d
        const m = /waiting at (http:\/\/\S+?)\/?\n[\s\S]*Setup token: (\S+)/.exec(out)
        if (m) resolve(m[1].replace('localhost', '127.0.0.1'))
      })
      child.once('exit', code => reject(new Error(`server exited ${code}`)))
    })
    const startMs = performance.now() - started
    const token = /Setup token: (\S+)/.exec(out)![1]
    const setupRss = await statusKiB(child.pid!, 'VmRSS')
    const answers = parseAnswers(JSON.stringify({
      version: 1,
      language,
      database: db ? { provider: 'mysql', url: db.url } : { provider: 'sqlite', file: path.join(dir, 'data', 'app.db') },
      cache: { backend: 'filesystem', dir: path.join(dir, 'data', 'cache') },
      restore: null,
      admin: { username: 'admin', email: 'admin@example.com', password: ADMIN_PASSWORD }
    }))
    // Laps as WordPress's script takes them: from before the browser's launch to the signed-in
    // dashboard (closing the browser is not counted); "browser" is the launch and the first page.
    const laps: Lap[] = []
    const t0 = performance.now()
    let last = t0
    let lastCpu = cpuMs(child.pid!)
    await replay({
      answers,
      url,
      token,
      chromiumPath,
      onStep: report => {
        const now = performance.now()
        const cpu = cpuMs(child.pid!)
        if (laps.length === 0) laps.push({ step: 'browser', ms: now - last - report.ms })
        laps.push({ step: report.step, ms: report.ms, serverCpuMs: cpu - lastCpu })
        last = now
        lastCpu = cpu
      }
    })
    return { totalMs: last - t0, laps, startMs, setupRss, afterRss: await statusKiB(child.pid!, 'VmRSS'), peakRss: await statusKiB(child.pid!, 'VmHWM') }
  } finally {
    child.kill('SIGTERM')
    if (child.exitCode === null) await new Promise(resolve => child.once('exit', resolve))
    await db?.drop().catch(err => console.error(`could not drop the bench database: ${(err as Error).message}`))
    await rm(dir, { recursive: true, force: true })
  }
}

/** Whether php-cli has an extension (WordPress needs mysqli, from php-mysql). */
function phpHas (extension: string): boolean {
  try {
    return execFileSync('php', ['-m'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').some(l => l.trim().toLowerCase() === extension)
  } catch {
    return false
  }
}

/** Why WordPress's installer cannot run here, or undefined when it can. */
function wordpressMissing (script: string): string | undefined {
  if (!existsSync(script)) return `${script} is absent`
  const needs: Array<[string, () => boolean]> = [
    ['wordpress', () => existsSync('/usr/share/wordpress')],
    ['php-cli', () => existsSync('/usr/bin/php')],
    ['php-mysql', () => phpHas('mysqli')],
    ['mariadb-client', () => existsSync('/usr/bin/mariadb')]
  ]
  const missing = needs.filter(([, present]) => !present()).map(([pkg]) => pkg)
  if (missing.length) return `Debian packages missing: ${missing.join(' ')} (apt-get install wordpress php-cli php-mysql)`
  return undefined
}

async function wordpressRun (script: string, chromiumPath: string): Promise<RunResult> {
  // The script imports playwright-core, which ESM resolves from the script's own folder: it runs from a
  // copy under this project's node_modules. Nothing of it is kept.
  const dir = await mkdtemp(path.join(root, 'node_modules', '.amorce-bench-wp-'))
  try {
    const copy = path.join(dir, 'wordpress-install.mjs')
    await copyFile(script, copy)
    const { code, stdout, stderr } = await new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
      // In a process group of its own: the script stops php's master process only, and the workers
      // (PHP_CLI_SERVER_WORKERS) would go on serving; the whole group is ended after the run.
      const child = spawn(process.execPath, [copy], { cwd: dir, detached: true, env: { ...process.env, NODE_OPTIONS: '', CHROMIUM_PATH: chromiumPath }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', d => { stdout += d })
      child.stderr.on('data', d => { stderr += d })
      child.once('exit', code => {
        try { process.kill(-child.pid!, 'SIGTERM') } catch { /* the group has ended */ }
        resolve({ code, stdout, stderr })
      })
    })
    const line = stdout.split('\n').find(l => l.startsWith('{'))
    if (code !== 0 || !line) throw new Error(`WordPress's installer failed (exit ${code}): ${(stderr || stdout).trim().split('\n').slice(-3).join(' / ')}`)
    const result = JSON.parse(line) as { wp_seconds: number, steps: Array<[string, number]> }
    return { totalMs: result.wp_seconds * 1000, laps: result.steps.map(([step, s]) => ({ step, ms: s * 1000 })) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const chromiumPath = findChromium()
if (!chromiumPath) {
  console.error('no Chromium found: set CHROMIUM_PATH or apt-get install chromium')
  process.exit(3)
}
/** WordPress's driving script: as given, else ../shared/bench/ beside this checkout or beside the main one (a worktree's). */
function wordpressScript (): string {
  const given = values.wordpress ?? process.env.BENCH_WORDPRESS
  if (given) return path.resolve(given)
  const relative = '../shared/bench/wordpress-install.mjs'
  const candidates = [path.resolve(root, relative)]
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    candidates.push(path.resolve(path.dirname(common), relative))
  } catch { /* not a git checkout: the first candidate only */ }
  return candidates.find(c => existsSync(c)) ?? candidates[0]
}
const wpScript = wordpressScript()
const wpSkip = values['no-wordpress'] ? 'not asked (--no-wordpress)' : wordpressMissing(wpScript)
if (wpSkip) console.log(`WordPress's installer is skipped: ${wpSkip}. The ratios need it.`)
console.log(`server: ${path.relative(root, serverEntry)}${serverEntry.endsWith('.ts') ? ' (sources, through tsx)' : ''}; engines: ${engines.join(', ')}; ${runs} run(s); language ${language}; load average ${os.loadavg().map(l => l.toFixed(1)).join(' ')}\n`)

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const lapText = (r: RunResult) => r.laps.map(l => `${l.step} ${Math.round(l.ms)}${l.serverCpuMs !== undefined ? ` (server ${Math.round(l.serverCpuMs)})` : ''}`).join(', ')
const results: Record<string, RunResult[]> = {}
const labels = [...engines.map(e => `amorce-${e}`), ...(wpSkip ? [] : ['wordpress-mysql'])]
for (let i = 0; i < runs; i++) {
  for (const label of labels) {
    const r = label === 'wordpress-mysql'
      // The shared script has no retry of its own; one failed run (a navigation timing out) is run again, and said.
      ? await wordpressRun(wpScript, chromiumPath).catch(async err => {
        console.log(`run ${i + 1} wordpress-mysql failed, run again: ${(err as Error).message}`)
        return wordpressRun(wpScript, chromiumPath)
      })
      : await amorceRun(label.slice('amorce-'.length) as Engine, chromiumPath)
    ;(results[label] ??= []).push(r)
    const mem = r.setupRss ? `; server start ${Math.round(r.startMs!)} ms, RSS setup ${(r.setupRss / 1024).toFixed(0)} MiB, installed ${(r.afterRss! / 1024).toFixed(0)} MiB, peak ${(r.peakRss! / 1024).toFixed(0)} MiB` : ''
    console.log(`run ${i + 1} ${label.padEnd(16)} ${fmt(r.totalMs)}: ${lapText(r)} ms${mem}`)
  }
}

const median = (xs: number[]) => {
  const s = xs.filter(x => !Number.isNaN(x)).sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
console.log(`\nmedians over ${runs} run(s) (ms; the server's CPU time in parentheses):`)
for (const label of labels) {
  const rs = results[label]
  const steps = rs[0].laps.map(l => l.step)
  const parts = steps.map(step => {
    const laps = rs.map(r => r.laps.find(l => l.step === step)!)
    const cpu = laps[0].serverCpuMs !== undefined ? ` (${Math.round(median(laps.map(l => l.serverCpuMs!)))})` : ''
    return `${step} ${Math.round(median(laps.map(l => l.ms)))}${cpu}`
  })
  // The server's share: its CPU time over the whole run (the rest is the browser, the network and waiting).
  const serverCpu = rs[0].laps.some(l => l.serverCpuMs !== undefined)
    ? ` — server CPU ${fmt(median(rs.map(r => r.laps.reduce((sum, l) => sum + (l.serverCpuMs ?? 0), 0))))} in all`
    : ''
  console.log(`  ${label.padEnd(16)} ${fmt(median(rs.map(r => r.totalMs))).padStart(8)}   ${parts.join(', ')}${serverCpu}`)
}
const wp = results['wordpress-mysql']
if (wp) {
  const wpMs = median(wp.map(r => r.totalMs))
  const goals: Record<Engine, number> = { sqlite: 0.8, mysql: 1.0 }
  console.log('\nratios Amorce / WordPress on MariaDB (medians; goal ≤ 0.8× on SQLite, ≤ 1.0× on MariaDB):')
  for (const e of engines) {
    const ratio = median(results[`amorce-${e}`].map(r => r.totalMs)) / wpMs
    console.log(`  ${e.padEnd(7)} ${ratio.toFixed(2)}×  ${ratio <= goals[e] ? 'within' : 'over'} the goal`)
  }
  console.log('  (one machine, both alternating in the same run: the ratio is what compares; absolute times follow the load)')
}
