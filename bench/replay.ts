// Benchmark: how long a full install takes through the real UI, and what the server costs.
// `npm run bench:replay [-- --runs 5]`: for each run, a fresh data directory, `npm start`, a headless
// replay of the wizard up to a signed-in dashboard; prints start-up time, replay time per step and in
// total, and the server's resident memory (setup mode, after install, peak). Talks only to 127.0.0.1.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { parseAnswers } from '../server/replay/answers.ts'
import { findChromium, replay, type StepReport } from '../server/replay/replay.ts'

const root = fileURLToPath(new URL('../', import.meta.url))
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, language: { type: 'string', default: 'en' } } })
const runs = Math.max(1, Math.min(20, Number(values.runs)))

async function rssKiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}
async function peakKiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

async function oneRun (chromiumPath: string): Promise<{ startMs: number, steps: StepReport[], totalMs: number, setupRss: number, afterRss: number, peakRss: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-bench-'))
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server/main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') },
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
    const setupRss = await rssKiB(child.pid!)
    const answers = parseAnswers(JSON.stringify({
      version: 1,
      language: values.language,
      database: { provider: 'sqlite', file: path.join(dir, 'data', 'app.db') },
      cache: { backend: 'filesystem', dir: path.join(dir, 'data', 'cache') },
      restore: null,
      admin: { username: 'admin', email: 'admin@example.com', password: 'Bench-Lanterne-Ardoise-42' }
    }))
    const t0 = performance.now()
    const steps = await replay({ answers, url, token, chromiumPath })
    const totalMs = performance.now() - t0
    return { startMs, steps, totalMs, setupRss, afterRss: await rssKiB(child.pid!), peakRss: await peakKiB(child.pid!) }
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
    await rm(dir, { recursive: true, force: true })
  }
}

const chromiumPath = findChromium()
if (!chromiumPath) {
  console.error('no Chromium found: set CHROMIUM_PATH or apt-get install chromium')
  process.exit(3)
}
const results = []
for (let i = 0; i < runs; i++) {
  const r = await oneRun(chromiumPath)
  results.push(r)
  console.log(`run ${i + 1}: start ${r.startMs.toFixed(0)} ms, replay ${(r.totalMs / 1000).toFixed(2)} s ` +
    `(${r.steps.map(s => `${s.step} ${s.ms}`).join(', ')} ms), RSS setup ${(r.setupRss / 1024).toFixed(0)} MiB, ` +
    `installed ${(r.afterRss / 1024).toFixed(0)} MiB, peak ${(r.peakRss / 1024).toFixed(0)} MiB`)
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`\nmedian over ${runs} run(s), SQLite + filesystem cache, language ${values.language}:`)
console.log(`  server start to token:  ${median(results.map(r => r.startMs)).toFixed(0)} ms`)
console.log(`  full replay:            ${(median(results.map(r => r.totalMs)) / 1000).toFixed(2)} s (incl. Chromium start)`)
for (const step of results[0].steps.map(s => s.step)) {
  console.log(`    ${step.padEnd(14)} ${median(results.map(r => r.steps.find(s => s.step === step)!.ms)).toFixed(0)} ms`)
}
console.log(`  server RSS: setup ${(median(results.map(r => r.setupRss)) / 1024).toFixed(0)} MiB, installed ${(median(results.map(r => r.afterRss)) / 1024).toFixed(0)} MiB, peak ${(median(results.map(r => r.peakRss)) / 1024).toFixed(0)} MiB`)
