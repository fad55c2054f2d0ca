// `npm run backup -- --out <file>`: kept as a name for `amorce backup --out <file>` (server/cli/backup.ts).
import { main } from '../cli/index.ts'

process.exitCode = await main(['backup', ...process.argv.slice(2)])
