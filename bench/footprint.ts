// Benchmark: what Amorce costs to start and to keep, side by side with a bare Fastify hello
// (bench/fixtures/hello.mjs) started the same way in the same run: plain node on JavaScript, as
// `npm start` does. `npm run bench:footprint [-- --runs 5] [--skip-install]` prints:
//   - cold start (wall and CPU time, median of the runs) to the first wizard page and to /health,
//     with the ratios to the hello (goal ≤ 1.5×, wall and CPU); the sources through tsx (`npm run dev`) for reference;
//   - idle resident memory (2 s after the first answer, and settled: see SETTLE) of the hello, of setup mode,
//     and of normal mode after a restart (installed once from the environment: DATABASE_* on SQLite,
//     CACHE_BACKEND, ADMIN_*), goal ≤ 100 MB settled; beside it, the floor under it: the hello holding the
//     same Prisma client after one query (bench/fixtures/hello-prisma.mjs);
//   - size and file count of a production install of the packed package (goal ≤ 150 MB).
// Linux only (CPU time and memory are read from /proc). Talks only to 127.0.0.1.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { installTarball, pack, root, treeSize } from '../scripts/pack.ts'
import { serverPort } from '../test/helpers/net.ts'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'skip-install': { type: 'boolean', default: false } } })
const runs = Math.max(1, Math.min(20, Number(values.runs) || 3))
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
// Idle memory is read twice for every row alike: 2 s after the first answer (what a restart looks like at
// once), and settled: RSS polled each second from then on until, after at least 20 s, it has moved less than
// 1 MB over the last 5 s (at most 60 s). V8 shrinks an idle heap by itself only some seconds after the last
// activity (its memory reducer), so the early figure still holds start-up garbage; the goal uses the settled
// one, read the same way for Amorce, the hello and the floor. No flag is given to any of them.
const EARLY_MS = 2000
const SETTLE = { minMs: 20_000, windowMs: 5000, toleranceMiB: 1, maxMs: 60_000 }
const GOALS = { startRatio: 1.5, normalRssMiB: 100, installMiB: 150 }

const AMORCE = [path.join(root, 'dist/server/main.js')]
const AMORCE_TSX = ['--import', import.meta.resolve('tsx'), path.join(root, 'server/main.ts')]
const HELLO = [path.join(root, 'bench/fixtures/hello.mjs')]
const HELLO_PRISMA = [path.join(root, 'bench/fixtures/hello-prisma.mjs')]

interface Server { child: ChildProcess, url: string, output: () => string, stop: () => Promise<void> }

// Whatever ends this script (an error, Ctrl-C, a closed pipe), no server it started outlives it.
const children = new Set<ChildProcess>()
process.on('exit', () => { for (const c of children) c.kill('SIGKILL') })
for (const signal of ['SIGINT', 'SIGTERM', 'SIGPIPE', 'SIGHUP'] as const) process.on(signal, () => process.exit(130))

/** User + system CPU time the process has used so far, in ms. */
async function cpuMs (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLK_TCK // utime, stime
}
async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

async function start (args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Server> {
  const port = await serverPort()
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  let out = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { out += d })
  const exited = new Promise<void>(resolve => child.once('exit', () => { children.delete(child); resolve() }))
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    stop: async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); await exited }
  }
}

/** Polls `path` every 5 ms until it answers (`ok`: with a 2xx after redirects); the time since spawn and the CPU used. */
async function firstAnswer (server: Server, startedAt: number, target: string, ok: (r: Response) => boolean): Promise<{ wallMs: number, cpuMs: number }> {
  const deadline = startedAt + 60_000
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`server exited (${server.child.exitCode}):\n${server.output()}`)
    try {
      const r = await fetch(server.url + target)
      await r.arrayBuffer()
      if (ok(r)) {
        const wallMs = performance.now() - startedAt
        return { wallMs, cpuMs: await cpuMs(server.child.pid!) }
      }
    } catch { /* not listening yet */ }
    if (performance.now() > deadline) throw new Error(`no answer on ${target} in 60 s:\n${server.output()}`)
    await delay(5)
  }
}

async function coldStart (args: string[], target: string): Promise<{ wallMs: number, cpuMs: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-footprint-'))
  try {
    const startedAt = performance.now()
    const server = await start(args, { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, dir)
    try {
      return await firstAnswer(server, startedAt, target, r => target === '/health' ? r.status < 600 : r.status === 200)
    } finally { await server.stop() }
  } finally { await rm(dir, { recursive: true, force: true }) }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`

// 0. What runs is the current build.
const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)

console.log(`Node ${process.versions.node}, ${os.cpus().length} CPU, load ${os.loadavg()[0].toFixed(2)}; median of ${runs} run(s)\n`)

// 1. Cold starts, interleaved so that both sides see the same load.
const rows = [
  { name: 'Fastify hello', args: HELLO, target: '/' },
  { name: 'Fastify hello', args: HELLO, target: '/health' },
  { name: 'Amorce', args: AMORCE, target: '/' },
  { name: 'Amorce', args: AMORCE, target: '/health' },
  { name: 'Amorce via tsx (npm run dev)', args: AMORCE_TSX, target: '/' }
].map(r => ({ ...r, wall: [] as number[], cpu: [] as number[] }))
for (let i = 0; i < runs; i++) {
  for (const row of rows) {
    const m = await coldStart(row.args, row.target)
    row.wall.push(m.wallMs)
    row.cpu.push(m.cpuMs)
  }
}
const hello = (target: string) => rows.find(r => r.name === 'Fastify hello' && r.target === target)!
console.log('Cold start (spawn → first answer)            wall      CPU     ratio to hello (wall / CPU)')
for (const row of rows) {
  const h = hello(row.target)
  const ratio = row === h ? '' : `${(median(row.wall) / median(h.wall)).toFixed(2)}× / ${(median(row.cpu) / median(h.cpu)).toFixed(2)}×`
  const label = `${row.name}, ${row.target === '/' ? 'first page' : '/health'}`
  console.log(`  ${label.padEnd(42)} ${fmt(median(row.wall)).padStart(7)}  ${fmt(median(row.cpu)).padStart(7)}   ${ratio}`)
}
const amorceRows = rows.filter(r => r.args === AMORCE)
const worstWall = Math.max(...amorceRows.map(r => median(r.wall) / median(hello(r.target).wall)))
const worstCpu = Math.max(...amorceRows.map(r => median(r.cpu) / median(hello(r.target).cpu)))
const verdict = (ratio: number) => `${ratio.toFixed(2)}× ${ratio <= GOALS.startRatio ? 'met' : 'NOT met'}`
console.log(`  goal ≤ ${GOALS.startRatio}× the hello (worst of first page and /health): wall ${verdict(worstWall)}, CPU ${verdict(worstCpu)}\n`)

/** RSS 2 s after `since` (the first answer), then settled as SETTLE says; both in MiB. */
async function idleRss (server: Server, since: number): Promise<{ early: number, settled: number }> {
  await delay(Math.max(0, since + EARLY_MS - performance.now()))
  const pid = server.child.pid!
  const early = await rssMiB(pid)
  const samples: Array<{ at: number, mib: number }> = []
  for (;;) {
    const at = performance.now() - since
    samples.push({ at, mib: await rssMiB(pid) })
    const window = samples.filter(s => s.at >= at - SETTLE.windowMs).map(s => s.mib)
    const still = samples[0].at <= at - SETTLE.windowMs && Math.max(...window) - Math.min(...window) < SETTLE.toleranceMiB
    if ((at >= SETTLE.minMs && still) || at >= SETTLE.maxMs) return { early, settled: samples[samples.length - 1].mib }
    await delay(1000)
  }
}

/** Starts a server, waits for `target`, and measures it idle (servers measured together idle side by side). */
async function measured (args: string[], env: NodeJS.ProcessEnv, cwd: string, target: string, ok: (r: Response) => boolean) {
  const at = performance.now()
  const server = await start(args, env, cwd)
  await firstAnswer(server, at, target, ok)
  return { server, idle: () => idleRss(server, performance.now()) }
}

// 2. Idle memory: setup mode on a fresh directory; normal mode after an unattended install and a restart.
const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-footprint-'))
try {
  const setup = await measured(AMORCE, { DATA_DIR: path.join(dir, 'setup-data'), ENV_FILE: path.join(dir, 'setup.env') }, dir, '/', r => r.status === 200)
  const helloServer = await measured(HELLO, {}, dir, '/', r => r.status === 200)
  const [setupRss, helloRss] = await Promise.all([setup.idle(), helloServer.idle()])
  await Promise.all([setup.server.stop(), helloServer.server.stop()])

  const env = {
    DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'),
    DATABASE_PROVIDER: 'sqlite', DATABASE_URL: `file:${path.join(dir, 'data', 'app.db')}`,
    CACHE_BACKEND: 'filesystem', CACHE_DIR: path.join(dir, 'data', 'cache'),
    ADMIN_USERNAME: 'admin', ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'Footprint-Lanterne-Ardoise-42'
  }
  const installAt = performance.now()
  const first = await start(AMORCE, env, dir)
  await firstAnswer(first, installAt, '/health', r => r.status === 200 && /installed from the environment/.test(first.output()))
  const installMs = performance.now() - installAt
  const installedRss = await rssMiB(first.child.pid!)
  await first.stop()
  const restartAt = performance.now()
  const normal = await start(AMORCE, env, dir)
  const toHealth = await firstAnswer(normal, restartAt, '/health', r => r.status === 200)
  const toLogin = await firstAnswer(normal, restartAt, '/login', r => r.status === 200)
  const normalIdle = idleRss(normal, performance.now())
  // The floor: the hello with the same Prisma client, after one query on the same database, idle beside it.
  const floor = await measured(HELLO_PRISMA, { DATABASE_URL: env.DATABASE_URL }, dir, '/health', r => r.status === 200)
  const [normalRss, floorRss] = await Promise.all([normalIdle, floor.idle()])
  await Promise.all([normal.stop(), floor.server.stop()])

  const mb = (m: { early: number, settled: number }) => `${m.early.toFixed(0).padStart(4)} MB ${m.settled.toFixed(0).padStart(4)} MB`
  console.log(`Idle resident memory                        ${EARLY_MS / 1000} s after   settled (≥ ${SETTLE.minMs / 1000} s, < ${SETTLE.toleranceMiB} MB change over ${SETTLE.windowMs / 1000} s)`)
  console.log(`  Fastify hello                              ${mb(helloRss)}`)
  console.log(`  Amorce, setup mode                         ${mb(setupRss)}`)
  console.log(`  Amorce, just after the unattended install  ${installedRss.toFixed(0).padStart(4)} MB           (install from the environment: ${fmt(installMs)})`)
  console.log(`  Amorce, normal mode after a restart        ${mb(normalRss)}   (restart to /health ${fmt(toHealth.wallMs)}, to /login ${fmt(toLogin.wallMs)})`)
  console.log(`  Fastify hello + the app's Prisma client    ${mb(floorRss)}   (the floor under normal mode: Prisma's query compiler and the SQLite driver)`)
  console.log(`  Amorce's own share (normal mode − floor): ${(normalRss.early - floorRss.early).toFixed(0)} MB early, ${(normalRss.settled - floorRss.settled).toFixed(0)} MB settled`)
  console.log(`  goal ≤ ${GOALS.normalRssMiB} MB in normal mode, settled: ${normalRss.settled.toFixed(0)} MB ${normalRss.settled <= GOALS.normalRssMiB ? 'met' : 'NOT met'}\n`)
} finally { await rm(dir, { recursive: true, force: true }) }

// 3. The production install of the packed package.
if (values['skip-install']) {
  console.log('Production install: skipped (--skip-install)')
} else {
  const work = await mkdtemp(path.join(os.tmpdir(), 'amorce-footprint-pack-'))
  try {
    const packed = pack(path.join(work, 'pack'))
    const install = installTarball(path.join(work, 'app'), packed.tarball)
    const size = treeSize(path.join(work, 'app', 'node_modules'))
    const mib = size.bytes / 1024 ** 2
    console.log('Production install (npm pack, then npm install --omit=dev <tarball> in an empty directory)')
    console.log(`  tarball ${(packed.bytes / 1024 ** 2).toFixed(1)} MB (${packed.files} files); node_modules ${mib.toFixed(1)} MB (${(size.diskBytes / 1024 ** 2).toFixed(1)} MB on disk) in ${size.files} files; installed in ${fmt(install.ms)}`)
    console.log(`  goal ≤ ${GOALS.installMiB} MB: ${mib <= GOALS.installMiB ? 'met' : 'NOT met'}`)
  } finally { await rm(work, { recursive: true, force: true }) }
}
