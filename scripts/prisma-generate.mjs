// Runs `prisma generate` for the given providers' schemas (all by default); scripts/build.mjs calls it
// at `npm install` when a schema changed.
// Prisma's CLI wants a schema-engine binary even though generate does not use it, and would try to
// download one from a CDN that many hosts (and this project's CI) cannot reach: pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file skips that download.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { PROVIDERS, schemaPath } from './db-schemas.mjs'

const require = createRequire(import.meta.url)
let prismaCli
try {
  prismaCli = require.resolve('prisma/build/index.js')
} catch {
  console.warn('prisma CLI not installed: skipping client generation')
  process.exit(0)
}

const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1'
}
const wanted = process.argv.length > 2 ? process.argv.slice(2) : PROVIDERS
for (const provider of wanted) {
  const r = spawnSync(process.execPath, [prismaCli, 'generate', '--schema', schemaPath(provider)], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr)
    console.error(`prisma generate failed for ${provider}`)
    process.exit(r.status ?? 1)
  }
  console.log(`Prisma client generated for ${provider}`)
}
