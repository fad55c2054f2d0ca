// `npm run replay -- <answers.json> --url <base-url> [--url …] [--servers <file>] [--concurrency n] [--report json] [--dry-run]`:
// installs one or many servers through their own wizard, headless, in one browser. Exit 0 once every admin is
// signed in; 1 a replay failed (the others still ran to their end); 2 bad input; 3 no browser (or no
// playwright-core: it is an optional dependency, absent from a production install). With --dry-run every step
// is walked and checked but nothing is installed: each server's plan is printed, and exit 0 means Install would
// be accepted on every server.
// A server's token comes from the --servers file, --token, SETUP_TOKEN, --token-file, or the local server's data
// directory. Texts are locales/<lang>/replay.json, in the operator's language (AMORCE_LANG, LC_ALL, LANG).
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { AnswersError, loadAnswers, type Answers } from './answers.ts'
import { findChromium } from './replay.ts'
import { playwrightAvailable } from './playwright.ts'
import { defaultConcurrency, displayName, parseServersFile, replayFleet, resolveToken, ServersFileError, TokenError, type ServerEntry, type Target } from './fleet.ts'
import { fleetReport, messageIndex, renderDryRun, renderTable } from './report.ts'
import type { TFunction } from 'i18next'
import { createI18n, translator } from '../i18n.ts'
import { cliLanguage } from '../cli/context.ts'
import { loadApp } from '../cli/app.ts'
import { createRegistry, type Registry } from '../setup/registry.ts'

/** `--token -abc` as `--token=-abc`: parseArgs refuses an option's value that starts with a dash as ambiguous. */
function joinValues (argv: string[], options: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (options.includes(argv[i]) && i + 1 < argv.length) out.push(`${argv[i]}=${argv[++i]}`)
    else out.push(argv[i])
  }
  return out
}

async function main (env: NodeJS.ProcessEnv): Promise<number> {
  const lang = cliLanguage(env)
  const t = translator(lang)
  const usage = () => t('replay.usage', { concurrency: defaultConcurrency() })
  let args
  try {
    args = parseArgs({
      args: joinValues(process.argv.slice(2), ['--token', '--token-file']),
      allowPositionals: true,
      options: {
        url: { type: 'string', multiple: true },
        servers: { type: 'string' },
        concurrency: { type: 'string' },
        report: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        'data-dir': { type: 'string' },
        app: { type: 'string' },
        screenshots: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage()}`)
    return 2
  }
  const { values } = args
  if (values.help) { console.log(usage()); return 0 }
  const report = values.report ?? 'text'
  if (report !== 'json' && report !== 'text') { console.error(t('replay.errors.report')); return 2 }
  // With --report json, stdout carries the report alone: a person's lines go to stderr.
  const say = report === 'json' ? (line: string) => console.error(line) : (line: string) => console.log(line)
  const dryRun = values['dry-run'] === true
  const concurrency = values.concurrency === undefined ? defaultConcurrency() : Number(values.concurrency)
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) { console.error(t('replay.errors.concurrency')); return 2 }

  // The servers: --url ones first, then the --servers file's.
  const entries: ServerEntry[] = []
  for (const url of values.url ?? []) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) { console.error(t('replay.errors.notUrl', { url })); return 2 }
    entries.push({ url })
  }
  if (values.servers) {
    try {
      entries.push(...parseServersFile(await readFile(values.servers, 'utf8'), values.servers))
    } catch (err) {
      console.error(t('replay.servers.invalid', { file: values.servers }))
      if (err instanceof ServersFileError) for (const p of err.problems) console.error(`  ${p.path}: ${t(p.key, p.params)}`)
      else console.error(`  ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      return 2
    }
  }
  if (entries.length === 0) { console.error(`${t('replay.errors.noServer')}\n${usage()}`); return 2 }
  const seen = new Set<string>()
  for (const e of entries) {
    const name = displayName(e.url)
    if (seen.has(name)) { console.error(t('replay.servers.twice', { server: name })); return 2 }
    seen.add(name)
  }
  const [file] = args.positionals
  if (!file && entries.some(e => e.answers === undefined)) { console.error(`${t('replay.errors.noAnswers')}\n${usage()}`); return 2 }

  // The app the servers run: its steps (a host's own among them) are what the answers file may hold and the
  // replay fills. Found as `amorce` finds it: --app, else package.json's amorce.app, else the reference app.
  let registry: Registry
  let translate: (lang: string) => TFunction
  try {
    const { definition } = await loadApp(process.cwd(), values.app)
    registry = createRegistry(definition.steps)
    const texts = await createI18n(definition.locales, definition.languages)
    translate = lang => texts.translator(lang)
  } catch (err) {
    console.error(t('replay.errors.app', { detail: (err as Error).message.split('\n')[0] }))
    return 2
  }

  // Every answers file and every token before any browser starts: bad input stops everything at once.
  if (values.token) console.error(t('replay.run.tokenVisible'))
  const defaults = { token: values.token, tokenFile: values['token-file'], dataDir: path.resolve(values['data-dir'] ?? env.DATA_DIR ?? 'data'), env }
  const targets: Target[] = []
  let bad = false
  for (const entry of entries) {
    const answersFile = entry.answers ?? file
    let answers: Answers | undefined
    try {
      answers = await loadAnswers(answersFile, { ...env, ...entry.variables }, registry)
    } catch (err) {
      if (!(err instanceof AnswersError)) throw err
      console.error(t('replay.errors.invalidAnswers', { file: entry.variables || entries.length > 1 ? `${answersFile} (${displayName(entry.url)})` : answersFile }))
      for (const p of err.problems) console.error(`  ${p.path}: ${p.message}`)
      bad = true
    }
    let token: string | undefined
    try {
      token = await resolveToken(entry, defaults)
    } catch (err) {
      if (!(err instanceof TokenError)) throw err
      console.error(t(err.key, err.params))
      bad = true
    }
    if (answers && token) targets.push({ name: entry.name ?? displayName(entry.url), url: entry.url, token, answers })
  }
  if (bad) return 2

  if (!playwrightAvailable()) { console.error(t('replay.errors.playwrightMissing')); return 3 }
  const chromiumPath = findChromium()
  if (!chromiumPath) { console.error(t('replay.errors.noChromium')); return 3 }

  // One server: the lines as they always were. Many: each line names its server, and a table ends the run.
  const many = targets.length > 1
  const width = Math.max(...targets.map(x => x.name.length))
  const tag = (target: Target) => many ? `[${target.name}]`.padEnd(width + 3) : ''
  if (many) say(t(dryRun ? 'replay.dryRun.startMany' : 'replay.run.startMany', { count: targets.length, concurrency: Math.min(concurrency, targets.length) }))
  const started = performance.now()
  const keyOf = messageIndex(lang)
  const outcomes = await replayFleet(targets, {
    concurrency,
    chromiumPath,
    screenshotDir: values.screenshots,
    registry,
    translate,
    keyOf,
    dryRun,
    onStart: target => { if (!many) say(t(dryRun ? 'replay.dryRun.start' : 'replay.run.start', { file: file ?? '', language: target.answers.language, url: target.name })) },
    onStep: (target, r) => say(`  ${tag(target)}✓ ${r.step.padEnd(14)} ${(r.ms / 1000).toFixed(2)} s`),
    onProgress: (target, p) => say(`      ${tag(target)}· ${p.stage}: ${p.text}`),
    onDone: (target, o) => {
      if (o.dryRun) {
        // The verdict first, then the page's message when refused, then what Install would do.
        if (o.status === 'ok') say(`${tag(target)}${t('replay.dryRun.accepted', { server: target.name, seconds: o.seconds })}`)
        else {
          console.error(`${tag(target)}${t('replay.dryRun.refused', { server: target.name })}`)
          const [first, ...rest] = (o.message ?? '').split('\n')
          console.error(`  ${tag(target)}✗ ${o.failedStep}: ${first}`)
          for (const line of rest) console.error(`      ${tag(target)}${line}`)
          if (o.screenshot) console.error(`    ${tag(target)}${t('replay.run.screenshot', { file: o.screenshot })}`)
        }
        for (const line of renderDryRun(o.dryRun, t, o.failedStep !== 'token' && o.failedStep !== 'browser')) say(`  ${tag(target)}${line}`)
        return
      }
      if (o.status === 'ok') {
        say(`${tag(target)}${t('replay.run.installed', { username: target.answers.admin.username, seconds: o.seconds })}`)
        return
      }
      // The page's whole message: one line per item, indented under the step.
      const [first, ...rest] = (o.message ?? '').split('\n')
      console.error(`  ${tag(target)}✗ ${o.failedStep}: ${first}`)
      for (const line of rest) console.error(`      ${tag(target)}${line}`)
      if (o.screenshot) console.error(`    ${tag(target)}${t('replay.run.screenshot', { file: o.screenshot })}`)
    }
  })
  const result = fleetReport(outcomes, (performance.now() - started) / 1000, dryRun)
  if (many) {
    const table = renderTable(result, t, o => (o.message === null ? null : keyOf(o.message)?.line ?? o.message.split('\n')[0]))
    if (report === 'json') console.error(`\n${table}`)
    else console.log(`\n${table}`)
  }
  if (report === 'json') console.log(JSON.stringify(result, null, 2))
  return result.ok ? 0 : 1
}

process.exitCode = await main(process.env)
