// A node:test reporter for `npm test`'s closing lines: the slowest tests and the totals. The runner
// sends it the same events as the standard reporter and prints its output after node's own. It also
// keeps each file's time (AMORCE_TEST_TIMES), so the next run can start the longest files first.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const SLOWEST = Number(process.env.TEST_SLOWEST ?? 10)

export default async function * report (source) {
  const tests = []
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0 }
  for await (const { type, data } of source) {
    if (type !== 'test:pass' && type !== 'test:fail') continue
    // Suites (describe) are containers; their tests are counted one by one.
    if (data.details?.type === 'suite') continue
    if (data.skip) counts.skipped++
    else if (data.todo) counts.todo++
    else if (type === 'test:pass') counts.passed++
    else counts.failed++
    // Top-level tests only in the ranking: a subtest's time is already in its parent's.
    if (data.nesting === 0) tests.push({ name: data.name, file: data.file, ms: data.details?.duration_ms ?? 0 })
  }
  if (process.env.AMORCE_TEST_TIMES) saveFileTimes(process.env.AMORCE_TEST_TIMES, tests)
  tests.sort((a, b) => b.ms - a.ms)
  const lines = [`# ${Math.min(SLOWEST, tests.length)} slowest tests`]
  for (const t of tests.slice(0, SLOWEST)) {
    const file = t.file ? path.relative(process.cwd(), t.file) : ''
    lines.push(`#   ${(t.ms / 1000).toFixed(1).padStart(6)} s  ${file}${file ? ': ' : ''}${t.name}`)
  }
  lines.push(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.todo ? `, ${counts.todo} todo` : ''}`)
  yield lines.join('\n') + '\n'
}

/** Seconds per test file (its top-level tests added up), merged into what earlier runs recorded. */
function saveFileTimes (file, tests) {
  let times = {}
  try { times = JSON.parse(readFileSync(file, 'utf8')) } catch {}
  const now = {}
  for (const t of tests) if (t.file) now[path.relative(process.cwd(), t.file)] = (now[path.relative(process.cwd(), t.file)] ?? 0) + t.ms / 1000
  try { writeFileSync(file, JSON.stringify({ ...times, ...now }, null, 1)) } catch {}
}
