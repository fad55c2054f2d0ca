// A node:test reporter for `npm test`'s closing lines: the slowest tests and the totals. The runner
// sends it the same events as the standard reporter and prints its output after node's own. It also
// keeps each file's time (AMORCE_TEST_TIMES), so the next run can start the longest files first.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const SLOWEST = Number(process.env.TEST_SLOWEST ?? 10)

export default async function * report (source) {
  const tests = []
  // What each file took: its top-level tests, or its top-level suite (whose tests may run concurrently).
  const tops = []
  // A file's nesting-1 tests, ranked if their parent turns out to be a suite (its events come after theirs).
  const children = new Map()
  const takeChildren = file => {
    const taken = children.get(file) ?? []
    children.delete(file)
    return taken
  }
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0 }
  for await (const { type, data } of source) {
    if (type !== 'test:pass' && type !== 'test:fail') continue
    const entry = { name: data.name, file: data.file, ms: data.details?.duration_ms ?? 0 }
    if (data.nesting === 0) tops.push(entry)
    // Suites (describe) are containers; their tests are counted one by one.
    if (data.details?.type === 'suite') {
      if (data.nesting === 0) tests.push(...takeChildren(data.file))
      continue
    }
    if (data.skip) counts.skipped++
    else if (data.todo) counts.todo++
    else if (type === 'test:pass') counts.passed++
    else counts.failed++
    // Top-level tests only in the ranking (or a top-level suite's): a subtest's time is already in its parent's.
    if (data.nesting === 0) {
      tests.push(entry)
      takeChildren(data.file)
    }
    if (data.nesting === 1) children.set(data.file, [...(children.get(data.file) ?? []), entry])
  }
  if (process.env.AMORCE_TEST_TIMES) saveFileTimes(process.env.AMORCE_TEST_TIMES, tops)
  tests.sort((a, b) => b.ms - a.ms)
  const lines = [`# ${Math.min(SLOWEST, tests.length)} slowest tests`]
  for (const t of tests.slice(0, SLOWEST)) {
    const file = t.file ? path.relative(process.cwd(), t.file) : ''
    lines.push(`#   ${(t.ms / 1000).toFixed(1).padStart(6)} s  ${file}${file ? ': ' : ''}${t.name}`)
  }
  lines.push(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.todo ? `, ${counts.todo} todo` : ''}`)
  yield lines.join('\n') + '\n'
}

/** Seconds per test file (its top-level tests and suites added up), merged into what earlier runs recorded. */
function saveFileTimes (file, tests) {
  let times = {}
  try { times = JSON.parse(readFileSync(file, 'utf8')) } catch {}
  const now = {}
  for (const t of tests) if (t.file) now[path.relative(process.cwd(), t.file)] = (now[path.relative(process.cwd(), t.file)] ?? 0) + t.ms / 1000
  try { writeFileSync(file, JSON.stringify({ ...times, ...now }, null, 1)) } catch {}
}
