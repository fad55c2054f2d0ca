// `npm test`: the type check, the incremental build of dist/ (tests that start the server run the
// compiled one, as `npm start` does), then every test/**/*.test.ts with node:test (through tsx).
// Arguments narrow the run: `npm test -- test/unit` or `npm test -- test/e2e/replay.test.ts`.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..')
const args = process.argv.slice(2)

function collect (p) {
  const st = statSync(p)
  if (st.isFile()) return p.endsWith('.test.ts') ? [p] : []
  return readdirSync(p).sort().flatMap(n => collect(path.join(p, n)))
}

const files = (args.length ? args : ['test']).flatMap(a => collect(path.resolve(root, a)))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}

if (!process.env.SKIP_TYPECHECK) {
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], { stdio: 'inherit' })
  if (tsc.status !== 0) {
    console.error('type check failed')
    process.exit(tsc.status ?? 1)
  }
}

// Always, even for unit tests: about half a second when dist/ is up to date, and never a stale server.
const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' })
if (build.status !== 0) {
  console.error('build failed')
  process.exit(build.status ?? 1)
}

const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files.map(f => path.relative(root, f))], { stdio: 'inherit', cwd: root })
process.exit(r.status ?? 1)
