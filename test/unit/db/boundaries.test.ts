// The engine and cache boundaries, checked on the source: the engines and cache backends are listed only in their
// registries, only server/app/schema.ts knows where the reference app's Prisma side is, the engine-neutral services
// import nothing of the reference app, and they keep no module-level state. Each check fails on the regression it
// names (the pattern it looks for is tried on a sample first, so a broken pattern cannot pass silently).
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { CACHE_BACKENDS } from '../../../server/cache/backends.ts'
import { PROVIDERS } from '../../../server/db/engines/index.ts'

const root = path.resolve(import.meta.dirname, '../../..')

async function sources (dir: string): Promise<Array<{ file: string, text: string }>> {
  const out: Array<{ file: string, text: string }> = []
  for (const entry of await readdir(path.join(root, dir), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    const file = path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/')
    if (file.startsWith('server/db/generated/')) continue
    out.push({ file, text: await readFile(path.join(root, file), 'utf8') })
  }
  return out
}

/** A list of two or more of `ids`: an array, a union type, record keys, or a switch's cases. */
function listPattern (ids: readonly string[]): RegExp {
  const id = `(?:${ids.join('|')})`
  return new RegExp([
    `\\[\\s*'${id}'\\s*,\\s*'${id}'`,
    `'${id}'\\s*\\|\\s*'${id}'`,
    `[{,]\\s*${id}\\s*:[^,}\\n]+,\\s*${id}\\s*:`,
    `case '${id}':[\\s\\S]{0,400}case '${id}':`
  ].join('|'))
}

function offenders (files: Array<{ file: string, text: string }>, pattern: RegExp, allowed: (file: string) => boolean): string[] {
  return files.filter(f => !allowed(f.file) && pattern.test(f.text)).map(f => `${f.file}: ${f.text.match(pattern)![0].slice(0, 80)}`)
}

const server = await sources('server')

test('the database engines are listed only in server/db/engines/ (and the reference app\'s schema)', () => {
  const pattern = listPattern(PROVIDERS)
  for (const sample of ["const P = ['sqlite', 'postgresql', 'mysql']", "type S = 'postgresql' | 'mysql'", 'const PORTS = { postgresql: 5432, mysql: 3306 }', "switch (p) { case 'sqlite': return 1\n case 'mysql': return 2 }"]) {
    assert.match(sample, pattern, sample)
  }
  assert.doesNotMatch("if (provider === 'sqlite') return 'postgresql'", pattern)
  // server/cli/dev/engine.ts names the providers Prisma's wasm schema engine supports (a property of that tool).
  const allowed = (file: string) => file.startsWith('server/db/engines/') || file === 'server/app/schema.ts' || file === 'server/cli/dev/engine.ts'
  assert.deepEqual(offenders(server, pattern, allowed), [])
})

test('the cache backends are listed only in server/cache/backends.ts', () => {
  const pattern = listPattern(CACHE_BACKENDS)
  assert.match("export const BACKENDS = ['redis', 'filesystem', 'memory'] as const", pattern)
  assert.match("backend: 'memory' | 'filesystem' | 'redis'", pattern)
  assert.deepEqual(offenders(server, pattern, file => file === 'server/cache/backends.ts'), [])
})

test('only server/app/schema.ts reaches the reference app\'s migrations and generated clients', () => {
  const pattern = /db\/generated|(?:packageDir|fromPackageRoot)\(\s*'prisma'|['"`/]prisma\/(?:sqlite|postgresql|mysql|models\.prisma)/
  for (const sample of ["import('./db/generated/sqlite/client.ts')", "packageDir('prisma')", "fromPackageRoot('prisma', provider, 'migrations')"]) assert.match(sample, pattern, sample)
  assert.deepEqual(offenders(server, pattern, file => file === 'server/app/schema.ts' || file.startsWith('server/cli/dev/')), [])
})

test('the engine-neutral services (server/db, server/backup, server/cache) import nothing of the reference app', () => {
  const pattern = /from '(?:\.\.\/)+app\/|from '\.\.\/app\.ts'/
  assert.match("import { referenceSchema } from '../app/schema.ts'", pattern)
  // verify-cli.ts is the reference app's own command (`npm run backup:verify`), not a service.
  const services = server.filter(f => /^server\/(db|backup|cache)\//.test(f.file))
  assert.ok(services.length > 20)
  assert.deepEqual(offenders(services, pattern, file => file === 'server/backup/verify-cli.ts'), [])
})

test('no module-level mutable state in server/db, server/backup, server/cache (no top-level let/var)', () => {
  const pattern = /^(?:export\s+)?(?:let|var)\s/m
  assert.match('let modelTables: string[] | undefined', pattern)
  const services = server.filter(f => /^server\/(db|backup|cache)\//.test(f.file))
  assert.deepEqual(offenders(services, pattern, () => false), [])
})
