// `npm run backup:verify -- FILE [--provider <engine>] [--lang en|fr]`: the wizard's verification without the
// wizard, for the reference app (its schema: server/app/schema.ts). Reads the whole file, writes nothing, prints
// every problem (localized) and exits 1 when there is one. Without --provider, the backup is checked for each
// engine (their limits differ).
import { referenceSchema } from '../reference.ts'
import { isProvider, PROVIDERS } from '../db/engines/index.ts'
import { isLanguage, translator, type Language } from '../i18n.ts'
import { verifyBackupFile } from './verify.ts'
import { adminStore } from '../app/admin-store.ts'

const USAGE = `usage: npm run backup:verify -- <file.tar.gz> [--provider ${PROVIDERS.join('|')}] [--lang en|fr]`

function option (argv: string[], name: string): string | undefined {
  const index = argv.indexOf(name)
  return index === -1 ? undefined : argv[index + 1]
}

async function main (argv: string[]): Promise<number> {
  const provider = option(argv, '--provider')
  const lang = option(argv, '--lang') ?? (process.env.LANG ?? '').slice(0, 2)
  const file = argv.find((arg, i) => !arg.startsWith('--') && !['--provider', '--lang'].includes(argv[i - 1]))
  if (argv.includes('--help') || file === undefined || (provider !== undefined && !isProvider(provider))) {
    console.error(USAGE)
    return argv.includes('--help') ? 0 : 2
  }
  const t = translator(isLanguage(lang) ? lang as Language : 'en')
  const providers = provider !== undefined && isProvider(provider) ? [provider] : [...PROVIDERS]
  let failed = false
  for (const target of providers) {
    const report = await verifyBackupFile(file, { provider: target, schema: referenceSchema, admin: adminStore })
    const engine = t(`setup.restore.engines.${target}`)
    if (report.ok) {
      const s = report.summary!
      console.log(`✔ ${engine}: ${t('setup.restore.summaryLine', { rows: s.totalRows, engine: t(`setup.restore.engines.${s.sourceProvider}`), date: s.createdAt })} (${s.tables.map(x => `${x.name} ${x.rows}`).join(', ')}; sha256 ${s.sha256})`)
      continue
    }
    failed = true
    for (const problem of report.problems) console.log(`✘ ${engine}: ${t(problem.key, problem.params)} [${problem.code}]`)
  }
  return failed ? 1 : 0
}

process.exitCode = await main(process.argv.slice(2))
