// The test files of `npm test`, run by node:test's run() in the order scripts/run-tests.mjs gives (longest
// first). `node --test a b c` sorts its files by name whatever order they are given in, which put the
// longest files (the notes app, finalize-crash, the forms fuzz) last and left the run waiting on them alone.
// Started by run-tests.mjs as `node --import tsx [--import …] scripts/test-files.mjs <concurrency> <report>
// <files…>`: each file's process gets the same --import flags (node passes its execArgv on), node's own
// reporter writes to stdout (spec in a terminal, TAP otherwise) and scripts/test-report.mjs to <report>.
import { createWriteStream } from 'node:fs'
import { PassThrough } from 'node:stream'
import { finished } from 'node:stream/promises'
import { run } from 'node:test'
import { spec, tap } from 'node:test/reporters'
import report from './test-report.mjs'

const [concurrency, reportFile, ...files] = process.argv.slice(2)
const stream = run({ files, concurrency: Number(concurrency) })

let failed = false
stream.on('test:fail', ({ nesting, todo }) => { if (nesting === 0 && !todo) failed = true })

const toStdout = new PassThrough({ objectMode: true })
const toReport = new PassThrough({ objectMode: true })
stream.pipe(toStdout)
stream.pipe(toReport)
const out = toStdout.compose(process.stdout.isTTY ? new spec() : tap)
out.pipe(process.stdout)
const file = createWriteStream(reportFile)
toReport.compose(report).pipe(file)
await Promise.all([finished(out), finished(file)])
process.exitCode = failed ? 1 : 0
