// The reference app is a host like any other: its files import Amorce through the public entry only.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import test from 'node:test'
import { fileURLToPath } from 'node:url'

const server = fileURLToPath(new URL('../../../server/', import.meta.url))
const appDir = path.join(server, 'app')
// The public entries: the whole API, and the same without the wizard's steps (what normal mode needs).
const entries = [path.join(server, 'index.ts'), path.join(server, 'core.ts')]
// Prisma's generated clients of the reference schema: the reference app's own generated code (a host's is
// its `./generated/`), written where the schema's generator puts it.
const generated = path.join(server, 'db', 'generated')

/** Every module specifier of a source: imports, re-exports, dynamic imports, module augmentations. */
function specifiers (source: string): string[] {
  const found: string[] = []
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]/g,
    /\bdeclare\s+module\s+['"]([^'"]+)['"]/g
  ]
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1])
  return found
}

/** The specifiers of `file` that reach into Amorce other than through its public entry. */
function violations (file: string, source: string): string[] {
  return specifiers(source).filter(spec => {
    if (!spec.startsWith('.')) return false // a dependency (fastify, node:…), not a file of the package
    const target = path.resolve(path.dirname(file), spec)
    if (entries.includes(target)) return false
    if (target.startsWith(appDir + path.sep) || target.startsWith(generated + path.sep)) return false
    return true
  })
}

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter(e => e.isFile() && e.name.endsWith('.ts'))
    .map(e => path.join(e.parentPath, e.name))
}

test('every file of the reference app imports Amorce through its public entries (server/index.ts, server/core.ts) only', () => {
  const files = sources(appDir)
  assert.ok(files.length >= 5, `reference app files: ${files.join(', ')}`)
  const wrong = files.flatMap(file => violations(file, readFileSync(file, 'utf8')).map(spec => `${path.relative(server, file)}: ${spec}`))
  assert.deepEqual(wrong, [])
})

test('the rule sees every way a module is reached', () => {
  const file = path.join(appDir, 'x.ts')
  const source = [
    "import { a } from '../auth/password.ts'",
    "import type { B } from '../definition.ts'",
    "export { c } from '../setup/token.ts'",
    "const d = await import('../db/migrate.ts')",
    "import '../plugins/render.ts'",
    "declare module '../state.ts' {}",
    "import { ok } from '../index.ts'",
    "import { fine } from '../core.ts'",
    "import { own } from './routes.ts'",
    "import Fastify from 'fastify'"
  ].join('\n')
  assert.deepEqual(violations(file, source).sort(), ['../auth/password.ts', '../db/migrate.ts', '../definition.ts', '../plugins/render.ts', '../setup/token.ts', '../state.ts'])
})
