// Releases: the version is semver and CHANGELOG.md has its entry, in Keep a Changelog's form; the package is
// public and ships what a host needs; the schema part matches the reference schema.
import { execFileSync, spawnSync } from 'node:child_process'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { repoRoot } from '../helpers/server.ts'

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/

test('package.json has a semver version and CHANGELOG.md a dated entry for it, newest first', async () => {
  const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'))
  assert.match(version, SEMVER)
  const changelog = await readFile(path.join(repoRoot, 'CHANGELOG.md'), 'utf8')
  const releases = [...changelog.matchAll(/^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$/gm)].map(m => ({ version: m[1], date: m[2] }))
  assert.equal(releases[0]?.version, 'Unreleased', 'an [Unreleased] section on top collects what is merged next')
  const released = releases.slice(1)
  assert.equal(released[0]?.version, version, `the newest released entry is ${version}`)
  for (const r of released) {
    assert.match(r.version, SEMVER)
    assert.ok(r.date, `${r.version} has a date`)
  }
  const dates = released.map(r => r.date!)
  assert.deepEqual(dates, [...dates].sort().reverse(), 'newest first')
})

test('the package is public: named amorce, an exports map with types, the amorce command', async () => {
  const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'))
  assert.equal(pkg.name, 'amorce')
  assert.equal(pkg.private, undefined, 'not private: it is published')
  assert.deepEqual(pkg.exports['.'], { types: './dist/server/index.d.ts', import: './dist/server/index.js' })
  assert.equal(pkg.bin.amorce, 'dist/server/cli/index.js')
})

test('the packed tarball holds what a host needs: the compiled server and its types, views, locales, public files, the schema part', () => {
  // --ignore-scripts: the list only (npm pack would otherwise build first).
  const out = execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  const files = new Set<string>(JSON.parse(out.slice(out.indexOf('[')))[0].files.map((f: { path: string }) => f.path))
  for (const needed of [
    'dist/server/index.js', 'dist/server/index.d.ts', 'dist/server/cli/index.js', 'dist/server/app/index.js',
    'views/layouts/main.eta', 'views/error.eta', 'locales/en/common.json', 'locales/fr/common.json', 'public/app.css',
    'prisma/amorce.prisma', 'docs/embedding.md', 'CHANGELOG.md', 'README.md'
  ]) assert.ok(files.has(needed), `${needed} is in the package`)
  for (const file of files) assert.ok(!/^(test|scripts|bench|examples)\/|\.test\.|\.tsbuildinfo$/.test(file), `${file} is not shipped`)
})

test('prisma/amorce.prisma is what the reference schema holds of Setting and AuditLog, field by field', async () => {
  const fields = (schema: string, model: string) => {
    const body = new RegExp(`^model ${model} \\{([\\s\\S]*?)^\\}`, 'm').exec(schema)?.[1] ?? ''
    return body.split('\n').map(l => l.trim().replace(/\s+/g, ' ')).filter(l => l && !l.startsWith('//'))
  }
  const part = await readFile(path.join(repoRoot, 'prisma/amorce.prisma'), 'utf8')
  const reference = await readFile(path.join(repoRoot, 'prisma/models.prisma'), 'utf8')
  for (const model of ['Setting', 'AuditLog']) {
    const own = fields(part, model)
    assert.ok(own.length >= 3, `${model} has its fields in the schema part`)
    for (const line of own) assert.ok(fields(reference, model).includes(line), `the reference app's ${model} has "${line}"`)
  }
})

test('a TypeScript host compiles against the package\'s published types (dist/*.d.ts through the exports map)', async t => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-consumer-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(path.join(dir, 'node_modules'))
  // The package as a dependency resolves it: through package.json's exports, to dist/server/index.d.ts.
  await symlink(repoRoot, path.join(dir, 'node_modules', 'amorce'), 'dir')
  await symlink(path.join(repoRoot, 'node_modules', 'fastify'), path.join(dir, 'node_modules', 'fastify'), 'dir')
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'host', type: 'module' }))
  await writeFile(path.join(dir, 'host.ts'), `
import amorce, { createServer, start, defaultSteps, defineStep, hashPassword, type AdminStore, type AmorceOptions } from 'amorce'
import Fastify from 'fastify'

declare module 'amorce' {
  interface AmorceTypes { db: { note: { count(): Promise<number> } } }
}

const admin: AdminStore = {
  create: async (_db, a) => ({ id: 1, username: a.username, email: a.email, passwordHash: a.passwordHash }),
  find: async () => null,
  setPassword: async () => {},
  list: async () => []
}
const site = defineStep({ id: 'site', values: () => ({ name: '' }), submit: async () => ({}) })
export const options: AmorceOptions = {
  name: 'Notes',
  root: '/srv/notes',
  // As a generated client: its constructor names its own adapter type.
  schema: { client: async () => class PrismaClient { constructor (_options: { adapter: { provider: 'sqlite', connect(): Promise<void> } }) {} } },
  admin,
  steps: [...defaultSteps, site],
  async app (fastify) {
    fastify.get('/notes', async (req, reply) => {
      const count: number = await fastify.amorce.db.note.count()
      // @ts-expect-error: the host named its client's type; it has no such model
      fastify.amorce.db.nothing
      if (count === 0) return reply.page('notes/empty', { hash: await hashPassword('x') })
      return { count, base: fastify.amorce.config.basePath, text: req.t('notes.title'), lang: req.lang }
    })
  },
  languages: ['en', 'fr', 'de'],
  brand: { name: 'Notes', logo: '/logo.svg' }
}
export async function run (): Promise<void> {
  const app = await createServer({ ...options, logger: false })
  await app.close()
  const own = Fastify()
  await own.register(amorce, options)
  await start(options)
}
// @ts-expect-error: an app has a name
export const nameless: AmorceOptions = { root: '/srv/notes', schema: options.schema, admin }
`)
  await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
      skipLibCheck: true, types: ['node'], typeRoots: [path.join(repoRoot, 'node_modules/@types')]
    },
    files: ['host.ts']
  }))
  const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' })
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr)
})

test('README and the host and maintainer guides link only to files in the repository', async () => {
  for (const doc of ['README.md', 'docs/embedding.md', 'docs/architecture.md']) {
    const text = await readFile(path.join(repoRoot, doc), 'utf8')
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map(m => m[1]).filter(l => !/^(https?:|mailto:|#)/.test(l))
    if (doc === 'README.md') assert.ok(links.length >= 10, `${doc} has its links (${links.length})`)
    for (const link of links) {
      const target = path.resolve(path.dirname(path.join(repoRoot, doc)), link.split('#')[0])
      assert.ok(target.startsWith(repoRoot), `${doc}: ${link} stays in the repository`)
      assert.ok(existsSync(target), `${doc}: ${link} exists`)
    }
  }
})
