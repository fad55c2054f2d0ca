// `npm run backup -- --out <file>`: backs up the installed app's database, read from the same ENV_FILE / DATA_DIR
// as `npm start`. Writes to a temporary name next to the output and renames it at the end, so a failed or
// interrupted run never leaves a file that looks like a backup.
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { loadConfig } from '../config/config.ts'
import { createBackup } from './create.ts'
import { BackupError } from './errors.ts'

const USAGE = 'usage: npm run backup -- --out <file.tar.gz>'

async function main (argv: string[]): Promise<number> {
  const index = argv.indexOf('--out')
  const out = index === -1 ? undefined : argv[index + 1]
  if (argv.includes('--help') || out === undefined || out.startsWith('--')) {
    console.error(USAGE)
    return argv.includes('--help') ? 0 : 2
  }
  const config = await loadConfig()
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!config.installed || provider === undefined || url === undefined) {
    console.error(`Amorce is not installed yet (no APP_INSTALLED_AT / DATABASE_URL in ${config.envFile}): nothing to back up.`)
    return 1
  }
  const target = path.resolve(out)
  const partial = `${target}.partial-${process.pid}`
  const tty = process.stderr.isTTY
  let lastDraw = 0
  const started = Date.now()
  try {
    const manifest = await createBackup(createWriteStream(partial, { mode: 0o600 }), {
      provider,
      url,
      tmpDir: path.dirname(target),
      onProgress: p => {
        if (!tty || (Date.now() - lastDraw < 100 && p.rowsDone !== p.rowsTotal)) return
        lastDraw = Date.now()
        const percent = p.rowsTotal === 0 ? 100 : Math.floor(p.rowsDone * 100 / p.rowsTotal)
        process.stderr.write(`\r${p.table.padEnd(20)} ${p.rowsDone}/${p.rowsTotal} rows (${percent}%)`)
      }
    })
    await rename(partial, target)
    if (tty) process.stderr.write('\n')
    const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0)
    console.log(`Backup written to ${target}: ${manifest.tables.length} tables, ${rows} rows, migration ${manifest.migration}, ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return 0
  } catch (error) {
    await rm(partial, { force: true })
    if (tty) process.stderr.write('\n')
    // Driver messages can echo a URL: print the code and the message, never the configuration.
    console.error(`Backup failed: ${error instanceof BackupError ? `${error.code}: ` : ''}${(error as Error).message}`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
