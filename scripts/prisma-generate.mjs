// Runs `prisma generate` for the given providers' schemas (all by default); scripts/build.mjs calls it
// at `npm install` when a schema changed. `--root DIR` generates a host app's clients instead
// (e.g. `node scripts/prisma-generate.mjs --root examples/notes`; installed hosts run `amorce dev generate`).
// Prisma's CLI wants a schema-engine binary even though generate does not use it, and would try to
// download one from a CDN that many hosts (and this project's CI) cannot reach: pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file skips that download.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { PROVIDERS, rootArgument, schemaPath } from './db-schemas.mjs'

const { root, rest } = rootArgument(process.argv.slice(2))
// The host's own prisma CLI first (its version matches its @prisma/client), else this repository's.
let prismaCli
for (const anchor of [path.join(root, 'package.json'), import.meta.url]) {
  try {
    prismaCli = createRequire(anchor).resolve('prisma/build/index.js')
    break
  } catch {}
}
if (prismaCli === undefined) {
  console.warn('prisma CLI not installed: skipping client generation')
  process.exit(0)
}

const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1'
}
const wanted = rest.length > 0 ? rest : PROVIDERS
for (const provider of wanted) {
  const r = spawnSync(process.execPath, [prismaCli, 'generate', '--schema', schemaPath(provider, root)], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr)
    console.error(`prisma generate failed for ${provider}`)
    process.exit(r.status ?? 1)
  }
  console.log(`Prisma client generated for ${provider}`)
}
