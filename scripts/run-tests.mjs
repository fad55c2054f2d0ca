// `npm test`: every test/**/*.test.ts with node:test (through tsx), several files at a time, while the
// type check runs beside them (incremental, at a lower priority); either failing fails the run. The
// incremental build of dist/ comes first: the end-to-end tests start the compiled server.
// Arguments narrow the run: `npm test -- test/unit` or `npm test -- test/e2e/replay.test.ts`.
// `npm run test:stress` (`--stress`): the same with one core kept busy by a CPU hog and bigger fuzz
// volumes (AMORCE_STRESS=1, random seeds). SKIP_TYPECHECK=1 skips the type check, TEST_CONCURRENCY=n
// sets how many files run at once, TEST_CPU_LOG=file logs each file's start, end and CPU seconds
// (scripts/test-cpu-log.mjs).
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..')
const argv = process.argv.slice(2)
const stress = argv.includes('--stress')
const args = argv.filter(a => a !== '--stress')
const started = performance.now()

function collect (p) {
  const st = statSync(p)
  if (st.isFile()) return p.endsWith('.test.ts') ? [p] : []
  return readdirSync(p).sort().flatMap(n => collect(path.join(p, n)))
}

const cache = path.join(root, 'node_modules', '.cache', 'amorce')
mkdirSync(cache, { recursive: true })
const timesFile = path.join(cache, 'test-times.json')
let times = {}
try { times = JSON.parse(readFileSync(timesFile, 'utf8')) } catch {}
// A fresh clone has timed nothing yet: the committed figures of an earlier run order it (else the longest
// file could start last and the run end waiting on it alone).
let hints = {}
try { hints = JSON.parse(readFileSync(path.join(root, 'test/file-times.json'), 'utf8')).files ?? {} } catch {}
// Longest files first (as the last run timed them; files never timed go first, in directory order,
// end-to-end tests leading): the run does not end waiting on one long file started last.
const collected = (args.length ? args : ['test']).flatMap(a => collect(path.resolve(root, a)))
const known = f => times[path.relative(root, f)] ?? hints[path.relative(root, f)] ?? Infinity
const files = collected.map((f, i) => ({ f, i })).sort((a, b) => known(b.f) - known(a.f) || a.i - b.i).map(x => x.f)
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}

/** Runs a child; resolves with its exit code (a signal counts as a failure). */
function run (command, commandArgs, options) {
  const child = spawn(command, commandArgs, options)
  const done = new Promise(resolve => child.once('exit', (code, signal) => resolve(signal ? 1 : code ?? 1)))
  return { child, done }
}

// First the incremental build of dist/ (tests that start the server run the compiled one, as
// `npm start` does): about half a second when it is up to date, and never a stale server.
const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' })
if (build.status !== 0) {
  console.error('build failed')
  process.exit(build.status ?? 1)
}

// The type check, beside the tests: its output is held back and printed after theirs.
let typecheck
let typecheckChild
let testsChild
if (!process.env.SKIP_TYPECHECK) {
  const tsc = run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root,
    '--incremental', '--tsBuildInfoFile', path.join(cache, 'tsconfig.tsbuildinfo')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  // The tests are what someone waits for; the type check takes the CPU they leave.
  typecheckChild = tsc.child
  try { os.setPriority(tsc.child.pid, 10) } catch {}
  let out = ''
  tsc.child.stdout.on('data', d => { out += d })
  tsc.child.stderr.on('data', d => { out += d })
  const t0 = performance.now()
  typecheck = tsc.done.then(code => ({ code, out, seconds: (performance.now() - t0) / 1000 }))
}

// One core kept busy for the whole run, as another program on a shared host would.
const hog = stress ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : undefined

// Stopped (Ctrl-C, a CI timeout): the children stop too, none is left running on its own.
const children = () => [hog, typecheckChild, testsChild].filter(c => c && c.exitCode === null && c.signalCode === null)
process.once('exit', () => { for (const c of children()) c.kill('SIGKILL') })
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const c of children()) {
      if (c === testsChild) try { process.kill(-c.pid, signal) } catch {}
      else c.kill(c === hog ? 'SIGKILL' : signal)
    }
    process.exit(signal === 'SIGINT' ? 130 : 143)
  })
}

// One file more than there are cores: a test file spends much of its time waiting on what it started
// (a server, Chromium, a database: the accessibility walk uses 22 CPU-s in 48 s, the notes replays 60 in
// 126), and the extra file keeps the cores busy meanwhile. At least 3.
const concurrency = Number(process.env.TEST_CONCURRENCY) || Math.max(3, os.availableParallelism() + 1)
const reportDir = mkdtempSync(path.join(os.tmpdir(), 'amorce-test-report-'))
const reportFile = path.join(reportDir, 'report.txt')
const env = {
  ...process.env,
  // Cheap argon2 parameters where hashing is not what a test is about (server/auth/password.ts).
  AMORCE_TEST_FAST_HASH: process.env.AMORCE_TEST_FAST_HASH ?? '1',
  AMORCE_TEST_TIMES: timesFile,
  ...(stress ? { AMORCE_STRESS: '1' } : {})
}
// node:test's run() in scripts/test-files.mjs keeps this order (`node --test` would sort the files by name).
const tests = run(process.execPath, [
  '--import', 'tsx', ...(process.env.TEST_CPU_LOG ? ['--import', path.join(root, 'scripts/test-cpu-log.mjs')] : []),
  path.join(root, 'scripts/test-files.mjs'), String(concurrency), reportFile,
  ...files.map(f => path.relative(root, f))
  // Its own process group: stopping the run stops the test files' processes too (node:test leaves them).
], { stdio: 'inherit', cwd: root, env, detached: true })
testsChild = tests.child
const testCode = await tests.done
if (hog && hog.exitCode === null) hog.kill('SIGKILL')

let report = ''
try { report = readFileSync(reportFile, 'utf8') } catch {}
rmSync(reportDir, { recursive: true, force: true })

let typecheckFailed = false
const lines = []
if (typecheck) {
  const { code, out, seconds } = await typecheck
  typecheckFailed = code !== 0
  if (typecheckFailed) process.stdout.write(out)
  lines.push(`# type check: ${typecheckFailed ? 'FAILED' : 'ok'} (${seconds.toFixed(1)} s)`)
}
lines.push(`# ${files.length} files, ${concurrency} at a time${stress ? ', one core busy (stress)' : ''}: ${((performance.now() - started) / 1000).toFixed(1)} s wall`)
// The report ends with the plain "N passed, N failed" line: it stays the last line of the run.
process.stdout.write(`${lines.join('\n')}\n${report}`)
process.exit(testCode !== 0 ? testCode : typecheckFailed ? 2 : 0)
