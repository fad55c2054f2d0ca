// `TEST_CPU_LOG=file npm test …`: each test file's process appends one JSON line to `file` as it exits: the
// file, its start and end (epoch seconds) and its CPU seconds, its own and its reaped children's (servers,
// Chromium, scripts), from /proc/self/stat (Linux). What the runner's wall time alone cannot show: which
// files wait rather than work, and how the files packed onto the cores.
import { appendFileSync, readFileSync } from 'node:fs'
import path from 'node:path'

const file = process.argv[1] ?? ''
const log = process.env.TEST_CPU_LOG
if (log && file.endsWith('.test.ts')) {
  const start = (Date.now() - performance.now()) / 1000
  process.once('exit', () => {
    try {
      const stat = readFileSync('/proc/self/stat', 'utf8')
      // Fields 14-17 (utime, stime, cutime, cstime), counted after the command name's closing parenthesis.
      const [utime, stime, cutime, cstime] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 15).map(Number)
      const tick = 100
      appendFileSync(log, JSON.stringify({ file: path.relative(process.cwd(), file), start, end: Date.now() / 1000, self: (utime + stime) / tick, children: (cutime + cstime) / tick }) + '\n')
    } catch {}
  })
}
