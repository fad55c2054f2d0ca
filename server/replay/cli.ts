// `npm run replay -- <answers.json> --url <base-url> [--token <token>]`: installs a server through
// its own wizard, headless. Exit 0 once the admin is signed in; 1 replay failed; 2 bad input; 3 no browser
// (or no playwright-core: it is an optional dependency, absent from a production install).
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { AnswersError, loadAnswers } from './answers.ts'
import { findChromium, replay, ReplayError } from './replay.ts'
import { playwrightAvailable } from './playwright.ts'
import { translator } from '../i18n.ts'

const USAGE = 'usage: npm run replay -- <answers.json> --url <base-url> [--token <token>] [--data-dir <dir>] [--screenshots <dir>]'

function isLocal (url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(url.hostname) || url.hostname.startsWith('127.')
}

/** Local servers keep the token in ${DATA_DIR}/setup-token; read it there when none is given. */
async function resolveToken (given: string | undefined, url: URL, dataDir: string): Promise<string> {
  if (given) return given
  if (process.env.SETUP_TOKEN) return process.env.SETUP_TOKEN
  if (!isLocal(url)) throw new Error('--token is required for a remote server')
  const file = path.join(dataDir, 'setup-token')
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    throw new Error(`no --token given and ${file} cannot be read (set --data-dir or DATA_DIR to the server's data directory)`)
  }
}

async function main (): Promise<number> {
  let args
  try {
    args = parseArgs({
      allowPositionals: true,
      options: { url: { type: 'string' }, token: { type: 'string' }, 'data-dir': { type: 'string' }, screenshots: { type: 'string' }, help: { type: 'boolean', short: 'h' } }
    })
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (args.values.help) { console.log(USAGE); return 0 }
  const [file] = args.positionals
  if (!file || !args.values.url) { console.error(USAGE); return 2 }
  let url: URL
  try { url = new URL(args.values.url) } catch { console.error(`not a URL: ${args.values.url}`); return 2 }

  let answers
  try {
    answers = await loadAnswers(file)
  } catch (err) {
    if (!(err instanceof AnswersError)) throw err
    console.error(`${file} is not a valid answers file:`)
    for (const p of err.problems) console.error(`  ${p.path}: ${p.message}`)
    return 2
  }

  let token: string
  try {
    token = await resolveToken(args.values.token, url, path.resolve(args.values['data-dir'] ?? process.env.DATA_DIR ?? 'data'))
  } catch (err) { console.error((err as Error).message); return 2 }

  if (!playwrightAvailable()) {
    console.error(translator(answers.language)('replay.errors.playwrightMissing'))
    return 3
  }
  const chromiumPath = findChromium()
  if (!chromiumPath) {
    console.error('no Chromium found: set CHROMIUM_PATH, or install it (Debian: apt-get install chromium)')
    return 3
  }

  const started = performance.now()
  console.log(`Replaying ${file} (${answers.language}) on ${url.origin}${url.pathname.replace(/\/$/, '')}`)
  try {
    await replay({
      answers,
      url: url.toString(),
      token,
      chromiumPath,
      screenshotDir: args.values.screenshots,
      onStep: r => console.log(`  ✓ ${r.step.padEnd(14)} ${(r.ms / 1000).toFixed(2)} s`)
    })
  } catch (err) {
    if (!(err instanceof ReplayError)) throw err
    console.error(`  ✗ ${err.step}: ${err.message}`)
    if (err.screenshot) console.error(`    screenshot: ${err.screenshot}`)
    return 1
  }
  console.log(`Installed and signed in as ${answers.admin.username} in ${((performance.now() - started) / 1000).toFixed(2)} s`)
  return 0
}

process.exitCode = await main()
