// `npm run replay -- <answers.json> --url <base-url> [--token-file <file>]`: installs a server through
// its own wizard, headless. Exit 0 once the admin is signed in; 1 replay failed; 2 bad input; 3 no browser
// (or no playwright-core: it is an optional dependency, absent from a production install).
// The token comes from SETUP_TOKEN, --token-file, the local server's data directory, or --token (which every
// process list shows, and npm echoes: discouraged).
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { AnswersError, loadAnswers } from './answers.ts'
import { findChromium, replay, ReplayError } from './replay.ts'
import { playwrightAvailable } from './playwright.ts'
import { translator } from '../i18n.ts'

const USAGE = 'usage: npm run replay -- <answers.json> --url <base-url> [--token-file <file>] [--data-dir <dir>] [--screenshots <dir>]\n' +
  '  the setup token: SETUP_TOKEN=… in the environment, or --token-file <file>; on this machine it is read from\n' +
  '  <data-dir>/setup-token by default. --token <token> works too, but any process list shows it.'

function isLocal (url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(url.hostname) || url.hostname.startsWith('127.')
}

/**
 * The token, in this order: --token (visible in process lists), SETUP_TOKEN, --token-file, then a local server's
 * ${DATA_DIR}/setup-token. Whatever its first character: a token may start with "-".
 */
async function resolveToken (given: { token?: string, tokenFile?: string }, url: URL, dataDir: string): Promise<string> {
  if (given.token) return given.token
  if (process.env.SETUP_TOKEN) return process.env.SETUP_TOKEN.trim()
  const file = given.tokenFile ?? (isLocal(url) ? path.join(dataDir, 'setup-token') : undefined)
  if (!file) throw new Error('the setup token is required for a remote server: set SETUP_TOKEN or give --token-file <file>')
  let token: string
  try {
    token = (await readFile(file, 'utf8')).trim()
  } catch {
    throw new Error(given.tokenFile
      ? `cannot read the token file ${file}`
      : `no token given and ${file} cannot be read (set SETUP_TOKEN, give --token-file, or set --data-dir or DATA_DIR to the server's data directory)`)
  }
  if (token === '') throw new Error(`the token file ${file} is empty`)
  return token
}

/** `--token -abc` as `--token=-abc`: parseArgs refuses an option's value that starts with a dash as ambiguous. */
function joinValues (argv: string[], options: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (options.includes(argv[i]) && i + 1 < argv.length) out.push(`${argv[i]}=${argv[++i]}`)
    else out.push(argv[i])
  }
  return out
}

async function main (): Promise<number> {
  let args
  try {
    args = parseArgs({
      args: joinValues(process.argv.slice(2), ['--token', '--token-file']),
      allowPositionals: true,
      options: { url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, 'data-dir': { type: 'string' }, screenshots: { type: 'string' }, help: { type: 'boolean', short: 'h' } }
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

  if (args.values.token) console.error('warning: --token is visible to every user of this machine (process list) and npm prints it: prefer SETUP_TOKEN=… or --token-file <file>')
  let token: string
  try {
    token = await resolveToken({ token: args.values.token, tokenFile: args.values['token-file'] }, url, path.resolve(args.values['data-dir'] ?? process.env.DATA_DIR ?? 'data'))
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
      onStep: r => console.log(`  ✓ ${r.step.padEnd(14)} ${(r.ms / 1000).toFixed(2)} s`),
      onProgress: p => console.log(`      · ${p.stage}: ${p.text}`)
    })
  } catch (err) {
    if (!(err instanceof ReplayError)) throw err
    // The page's whole message: one line per item, indented under the step.
    const [first, ...rest] = err.message.split('\n')
    console.error(`  ✗ ${err.step}: ${first}`)
    for (const line of rest) console.error(`      ${line}`)
    if (err.screenshot) console.error(`    screenshot: ${err.screenshot}`)
    return 1
  }
  console.log(`Installed and signed in as ${answers.admin.username} in ${((performance.now() - started) / 1000).toFixed(2)} s`)
  return 0
}

process.exitCode = await main()
