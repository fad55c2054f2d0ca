// Benchmark: installing three servers with one command against installing one (issue 16).
// `npm run bench:fleet [-- --runs 3] [--servers 3] [--concurrency n]`
// Each run starts fresh servers as `npm start` does (SQLite, a cache directory, PORT=0, each in its own temporary
// directory), then times, one after the other, `npm run replay -- answers.json --url A` (one server alone) and
// `npm run replay -- answers.json --url B --url C --url D` (three at once, one browser), each from the command's
// start to its exit (the browser's launch included, as an operator waits for it). Prints every run, the medians,
// the ratio three/one and the load average. Talks only to 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { findChromium } from '../server/replay/replay.ts'

const root = fileURLToPath(new URL('../', import.meta.url))
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    servers: { type: 'string', default: '3' },
    concurrency: { type: 'string' }
  }
})
const runs = Math.max(1, Math.min(20, Number(values.runs) || 3))
const fleetSize = Math.max(2, Math.min(8, Number(values.servers) || 3))
const ADMIN_PASSWORD = 'Bench-Lanterne-Ardoise-42'

const serverEntry = path.join(root, 'dist/server/main.js')
const replayEntry = path.join(root, 'dist/server/replay/cli.js')
if (!existsSync(serverEntry) || !existsSync(replayEntry)) {
  console.error('bench:fleet runs the compiled server and replay: npm run build first')
  process.exit(2)
}
const chromiumPath = findChromium()
if (!chromiumPath) {
  console.error('bench:fleet needs Chromium: set CHROMIUM_PATH, or install it (Debian: apt-get install chromium)')
  process.exit(3)
}

interface Server { url: string, dir: string, child: ChildProcess }

/** A server as `npm start` starts it, on its own temporary directory; resolves with its address. */
async function startServer (): Promise<Server> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-bench-fleet-'))
  const child = spawn(process.execPath, [serverEntry], {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { amorce?: string, url?: string }) => { if (m?.amorce === 'ready' && m.url) resolve(m.url.replace('localhost', '127.0.0.1').replace(/\/$/, '')) })
    child.once('exit', code => reject(new Error(`server exited ${code}`)))
  })
  return { url, dir, child }
}

async function stop (s: Server): Promise<void> {
  if (s.child.exitCode === null) {
    const exited = new Promise(resolve => s.child.once('exit', resolve))
    s.child.kill('SIGTERM')
    await exited
  }
  await rm(s.dir, { recursive: true, force: true })
}

/** `npm run replay -- <answers> --url … [--url …]`, timed from its start to its exit. */
function replayServers (answers: string, servers: Server[]): Promise<number> {
  // Each server's setup token from its own data directory, as the replay reads a local one (a --servers file).
  const list = path.join(path.dirname(answers), `servers-${servers.length}-${Date.now()}.json`)
  return writeFile(list, JSON.stringify(servers.map(s => ({ url: s.url, dataDir: path.join(s.dir, 'data') })))).then(() => new Promise<number>((resolve, reject) => {
    const args = [replayEntry, answers, '--servers', list, ...(values.concurrency ? ['--concurrency', values.concurrency] : [])]
    const started = performance.now()
    const child = spawn(process.execPath, args, { cwd: path.dirname(answers), env: { ...process.env, NODE_OPTIONS: '', CHROMIUM_PATH: chromiumPath, ADMIN_PASSWORD, AMORCE_LANG: 'en' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', d => { out += d })
    child.stderr!.on('data', d => { out += d })
    child.once('exit', code => {
      const seconds = (performance.now() - started) / 1000
      if (code === 0) resolve(seconds)
      else reject(new Error(`replay exited ${code}:\n${out}`))
    })
  }))
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const work = await mkdtemp(path.join(os.tmpdir(), 'amorce-bench-fleet-answers-'))
// Paths relative to each server's working directory: one answers file for every server.
const answers = path.join(work, 'answers.json')
await writeFile(answers, JSON.stringify({
  version: 1,
  language: 'en',
  database: { provider: 'sqlite', file: 'data/app.db' },
  cache: { backend: 'filesystem', dir: 'data/cache' },
  restore: null,
  admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
}))

console.log(`bench:fleet — one server alone, then ${fleetSize} at once (one command, one browser); ${runs} run(s); ${os.availableParallelism()} cores; load average ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`)
const alone: number[] = []
const fleet: number[] = []
try {
  for (let run = 1; run <= runs; run++) {
    const servers = await Promise.all(Array.from({ length: fleetSize + 1 }, () => startServer()))
    try {
      const one = await replayServers(answers, servers.slice(0, 1))
      const many = await replayServers(answers, servers.slice(1))
      alone.push(one)
      fleet.push(many)
      console.log(`run ${run}: 1 server ${one.toFixed(2)} s, ${fleetSize} servers ${many.toFixed(2)} s, ratio ${(many / one).toFixed(2)} (load ${os.loadavg()[0].toFixed(2)})`)
    } finally {
      await Promise.all(servers.map(stop))
    }
  }
} finally {
  await rm(work, { recursive: true, force: true })
}
const m1 = median(alone)
const mN = median(fleet)
console.log(`median: 1 server ${m1.toFixed(2)} s, ${fleetSize} servers at once ${mN.toFixed(2)} s, ratio ${(mN / m1).toFixed(2)} (${fleetSize} one after the other would be about ${fleetSize}.00)`)
console.log(`load average at the end: ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`)
