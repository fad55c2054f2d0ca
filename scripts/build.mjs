// `npm run build` (also run by `prepare`, i.e. at `npm install`/`npm ci` in a clone and before `npm pack`):
// generates the Prisma clients when their schema changed, then compiles server/ into dist/ incrementally
// (`tsc --build`: about a second when nothing changed), then copies the non-TypeScript files the
// compiled server reads next to itself. `npm start` runs dist/server/main.js with plain node.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROVIDERS, schemaPath } from './db-schemas.mjs'

const root = fileURLToPath(new URL('../', import.meta.url))
const require = createRequire(import.meta.url)
const quiet = process.argv.includes('--quiet')
const log = (line) => { if (!quiet) console.log(line) }

function resolveOrNull (id) {
  try { return require.resolve(id) } catch { return null }
}

// Where the tools are missing (`npm ci --omit=dev` in a clone), a build that is already there is kept;
// without one the server cannot start, and the message says what to run.
const tsc = resolveOrNull('typescript/bin/tsc')
const prismaCli = resolveOrNull('prisma/build/index.js')
if (!tsc || !prismaCli) {
  if (existsSync(path.join(root, 'dist/server/main.js'))) {
    log('build: typescript or prisma is not installed (a production install): keeping the existing dist/')
    process.exit(0)
  }
  console.error('build: dist/ is missing and cannot be built without the development dependencies.\n' +
    'Run `npm ci` (without --omit=dev), then `npm run build`; or install the packed package, which ships dist/.')
  process.exit(1)
}

// 1. Prisma clients: regenerated only when the schema or the prisma version changed (the stamp says which).
const prismaVersion = JSON.parse(readFileSync(resolveOrNull('prisma/package.json'), 'utf8')).version
const stale = PROVIDERS.filter(provider => {
  const stamp = path.join(root, 'server/db/generated', provider, '.schema-hash')
  return !existsSync(stamp) || readFileSync(stamp, 'utf8') !== schemaHash(provider)
})
function schemaHash (provider) {
  return createHash('sha256').update(prismaVersion).update('\0').update(readFileSync(schemaPath(provider))).digest('hex')
}
if (stale.length > 0) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/prisma-generate.mjs'), ...stale], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
  for (const provider of stale) writeFileSync(path.join(root, 'server/db/generated', provider, '.schema-hash'), schemaHash(provider))
}

// 2. server/**/*.ts → dist/server/**/*.js (+ .d.ts for the package's types).
const t = spawnSync(process.execPath, [tsc, '--build', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (t.status !== 0) {
  console.error('build: tsc failed')
  process.exit(t.status ?? 1)
}

// 3. Data files the compiled modules read relative to themselves.
for (const file of ['server/replay/answers.schema.json']) {
  const target = path.join(root, 'dist', file)
  mkdirSync(path.dirname(target), { recursive: true })
  copyFileSync(path.join(root, file), target)
}
log('build: dist/ is up to date')
