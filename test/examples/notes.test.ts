// examples/notes, a second app installed by Amorce as a user would: this checkout packed (`npm pack`), the tarball
// installed into a temporary copy of examples/notes (the tree a fresh `npm install` resolves; the packages this
// checkout already holds at those versions linked rather than extracted again), its clients generated with `amorce dev
// generate` and the app compiled, once for the whole file. Then: its Site step is 4 files plus one line; its
// migrations apply with Amorce's runner on SQLite, PostgreSQL and MariaDB and CRUD works through the real adapters;
// its wizard, replayed from an answers file with a Site section, installs it on each engine and its own routes answer
// for the admin in both languages; a backup of it on SQLite restores into PostgreSQL and MariaDB with identical rows.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, cp, link, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, test, type TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import { migrate, type Provider } from '../../server/db/migrate.ts'
import { createDatabase, requireServer, urlOf } from '../helpers/databases.ts'
import { repoRoot, startServer } from '../helpers/server.ts'
import { chromiumPath } from '../helpers/services.ts'
import { tempDir } from '../helpers/tmp.ts'
import type { ServerConnection } from '../../server/db/url.ts'

const SOURCE = path.join(repoRoot, 'examples/notes')
const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'
const SITE = { name: 'Carnet « test »', timezone: 'Europe/Paris' }

interface Run { code: number | null, out: string, ms: number }

function run (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = performance.now()
  return new Promise(resolve => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 540_000)
    child.on('close', code => { clearTimeout(timer); resolve({ code, out, ms: performance.now() - started }) })
  })
}

// ---------------------------------------------------------------------------------------------
// The packed install, shared by the tests of this file

interface Installed {
  dir: string
  /** `tsc` on the app (its definition, step and plugin against the package's public types) */
  compile: Run
  timings: Record<string, number>
}
const installed: { value?: Installed, error?: Error } = {}
let work: string | undefined

/**
 * The prepared app (install, generate, compile) is a pure function of the packed tarball's bytes, the app's sources
 * and node: it is kept in node_modules/.cache/amorce/notes-<hash of those>/ and reused by the next run while none
 * of them changes (a change to dist/, examples/notes or this setup makes a new one). A directory is used only once
 * its `ready` file says the whole preparation succeeded; the tests only read it (their data goes to temp dirs).
 */
const SETUP_VERSION = '2'
const CACHE = path.join(repoRoot, 'node_modules', '.cache', 'amorce')
const ADAPTERS = ['libsql', 'pg', 'mariadb'].map(a => `export * from '@prisma/adapter-${a}'`).join('\n') + '\n'
const copied = (src: string) => !/[/\\](node_modules|dist|generated|vendor|data)$/.test(src) && !src.endsWith('.env')

async function sourceFiles (dir: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = path.join(rel, entry.name)
    if (!copied(path.join(dir, file))) continue
    if (entry.isDirectory()) out.push(...await sourceFiles(dir, file))
    else out.push(file)
  }
  return out
}

async function preparationKey (tarball: string): Promise<string> {
  const hash = createHash('sha256').update(`${SETUP_VERSION}\0${process.version}\0${ADAPTERS}\0`).update(await readFile(tarball))
  for (const file of await sourceFiles(SOURCE)) hash.update(`\0${file}\0`).update(await readFile(path.join(SOURCE, file)))
  return hash.digest('hex').slice(0, 24)
}

interface LockEntry { name?: string, version?: string, integrity?: string, inBundle?: boolean, bin?: Record<string, string> }
const NODE_MODULES = 'node_modules/'
const nameOf = (where: string, entry: LockEntry) => entry.name ?? where.slice(where.lastIndexOf(NODE_MODULES) + NODE_MODULES.length)

/** A package's files as hard links (a copy across file systems), without its own node_modules (other lock entries). */
async function linkPackage (from: string, to: string, top = true): Promise<void> {
  await mkdir(to, { recursive: true })
  await Promise.all((await readdir(from, { withFileTypes: true })).map(async entry => {
    if (top && entry.name === 'node_modules') return
    const [a, b] = [path.join(from, entry.name), path.join(to, entry.name)]
    if (entry.isDirectory()) return linkPackage(a, b, false)
    if (entry.isSymbolicLink()) return symlink(await readlink(a), b)
    await link(a, b).catch(async (error: NodeJS.ErrnoException) => { if (error.code === 'EXDEV') await copyFile(a, b); else throw error })
  }))
}

/**
 * Fills the app's node_modules, before `npm install`, with the packages of its lockfile that this checkout's
 * node_modules already holds: same name, version and integrity, i.e. the bytes npm would extract from its cache.
 * Each is hard-linked where the lockfile places it, with its bin links, and a hidden lockfile
 * (node_modules/.package-lock.json, as npm writes after an install) says what is there; npm then finds them
 * installed and only extracts the others (the amorce tarball, versions this checkout does not hold), the tree
 * being the lockfile's. Nothing writes through the links: npm replaces what it changes with new files and writes
 * its lockfiles as new files, and the tests only read the app (its data goes to temp dirs). Returns how many.
 */
async function seedFromCheckout (dir: string): Promise<number> {
  let held: Record<string, LockEntry>
  try {
    held = JSON.parse(await readFile(path.join(repoRoot, 'node_modules/.package-lock.json'), 'utf8')).packages
  } catch { return 0 } // not installed by npm: npm installs everything
  const key = (where: string, entry: LockEntry) => `${nameOf(where, entry)}@${entry.version}@${entry.integrity}`
  const here = new Map(Object.entries(held).map(([where, entry]) => [key(where, entry), where]))
  const lock = JSON.parse(await readFile(path.join(dir, 'package-lock.json'), 'utf8'))
  const wanted: Record<string, LockEntry> = lock.packages
  // A package whose bundled dependencies are in its tarball only: npm extracts it.
  const bundling = new Set(Object.keys(wanted).filter(where => wanted[where].inBundle).map(where => where.slice(0, where.lastIndexOf(`/${NODE_MODULES}`))))
  const seeded: Record<string, LockEntry> = {}
  // Parents before their nested packages (the lockfile's order); a nested one only inside a seeded parent, so that
  // every directory in node_modules is one the hidden lockfile lists.
  for (const [where, entry] of Object.entries(wanted)) {
    const source = entry.integrity && !entry.inBundle && !bundling.has(where) && here.get(key(where, entry))
    const parent = where.slice(0, Math.max(0, where.lastIndexOf(`/${NODE_MODULES}`)))
    if (!source || (parent && !seeded[parent])) continue
    const from = path.join(repoRoot, source)
    if (JSON.parse(await readFile(path.join(from, 'package.json'), 'utf8')).version !== entry.version) continue
    await linkPackage(from, path.join(dir, where))
    const bins = path.join(dir, where.slice(0, where.lastIndexOf(NODE_MODULES) + NODE_MODULES.length), '.bin')
    for (const [name, file] of Object.entries(entry.bin ?? {})) {
      await mkdir(bins, { recursive: true })
      await symlink(path.relative(bins, path.join(dir, where, file)), path.join(bins, name))
    }
    seeded[where] = entry
  }
  // Written last: npm trusts a hidden lockfile only if nothing in node_modules is newer.
  await writeFile(path.join(dir, 'node_modules/.package-lock.json'),
    JSON.stringify({ name: lock.name, version: lock.version, lockfileVersion: lock.lockfileVersion, requires: true, packages: seeded }, null, 2) + '\n')
  return Object.keys(seeded).length
}

const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']

/**
 * Copies the app, installs the tarball into it, generates its clients and compiles it, into `dir`. The install is
 * a user's first `npm install`, in two steps: npm resolves the app's tree (`--package-lock-only`: the versions a
 * fresh install picks, not this checkout's), then installs exactly that lockfile, the packages this checkout
 * already holds at those versions linked in beforehand (seedFromCheckout: half the CPU of extracting them all again).
 */
async function prepare (dir: string, tarball: string, timings: Record<string, number>): Promise<Run> {
  await cp(SOURCE, dir, { recursive: true, filter: copied })
  await mkdir(path.join(dir, 'vendor'))
  await copyFile(tarball, path.join(dir, 'vendor', 'amorce.tgz'))
  await writeFile(path.join(dir, 'test-adapters.mjs'), ADAPTERS)
  const resolution = await run('npm', ['install', '--package-lock-only', ...NPM_QUIET], dir)
  timings.resolve = resolution.ms
  if (resolution.code !== 0) throw new Error(`npm install --package-lock-only failed:\n${resolution.out}`)
  const resolved = await readFile(path.join(dir, 'package-lock.json'), 'utf8')
  const started = performance.now()
  const seeded = await seedFromCheckout(dir)
  timings.link = performance.now() - started
  console.log(`# notes: ${seeded} of the ${Object.keys(JSON.parse(resolved).packages).length - 1} packages it resolved linked from this checkout's node_modules`)
  const install = await run('npm', ['install', ...NPM_QUIET], dir)
  timings.install = install.ms
  if (install.code !== 0) throw new Error(`npm install failed:\n${install.out}`)
  // The tree is the one npm resolved for a fresh install, whatever was linked in.
  assert.equal(await readFile(path.join(dir, 'package-lock.json'), 'utf8'), resolved, `npm install changed the resolved tree (${seeded} packages linked from this checkout)`)
  const generate = await run(process.execPath, ['node_modules/amorce/dist/server/cli/index.js', 'dev', 'generate'], dir)
  timings.generate = generate.ms
  if (generate.code !== 0) throw new Error(`amorce dev generate failed:\n${generate.out}`)
  const compile = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], dir)
  timings.compile = compile.ms
  return compile
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'amorce-notes-'))
  const timings: Record<string, number> = {}
  try {
    // dist/ is fresh (scripts/run-tests.mjs builds it first): pack it as it is, without running `prepare` again.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], repoRoot)
    timings.pack = pack.ms
    if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.out}`)
    const tarball = path.join(work, pack.out.trim().split('\n').pop()!)
    const cached = path.join(CACHE, `notes-${await preparationKey(tarball)}`)
    const ready = path.join(cached, 'ready.json')
    let dir: string
    let compile: Run
    if (existsSync(ready)) {
      dir = cached
      compile = JSON.parse(await readFile(ready, 'utf8')).compile
      timings.cached = 0
    } else {
      // The cache directory is claimed by creating it; another run preparing the same one (or a run that died
      // preparing it) leaves it without `ready`: this run then prepares its own copy in its temp directory.
      let claimed = false
      const claim = async () => { try { await mkdir(cached, { recursive: true }) === cached && (claimed = true) } catch {} }
      await mkdir(CACHE, { recursive: true })
      await claim()
      // Left half-prepared an hour ago: that run died; this one starts it again.
      if (!claimed && Date.now() - (await stat(cached).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs > 3_600_000) {
        await rm(cached, { recursive: true, force: true })
        await claim()
      }
      dir = claimed ? cached : path.join(work, 'notes')
      try {
        compile = await prepare(dir, tarball, timings)
      } catch (error) {
        if (claimed) await rm(cached, { recursive: true, force: true })
        throw error
      }
      if (claimed) {
        await writeFile(ready, JSON.stringify({ compile, timings }))
        // Older preparations (another tarball or app) go: one is kept.
        for (const entry of await readdir(CACHE)) {
          if (entry.startsWith('notes-') && path.join(CACHE, entry) !== cached) await rm(path.join(CACHE, entry), { recursive: true, force: true })
        }
      }
    }
    installed.value = { dir, compile, timings }
    console.log(`# notes from the packed tarball: ${Object.entries(timings).map(([k, ms]) => k === 'cached' ? 'install, generate and compile reused (same tarball and sources)' : `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')}`)
  } catch (error) {
    installed.error = error as Error
  }
})

after(async () => { if (work) await rm(work, { recursive: true, force: true }) })

function notes (): Installed {
  if (installed.error) throw installed.error
  return installed.value!
}

/** The app compiled against the package's public types; its errors are the test's failure. */
function compiledApp (): Installed {
  const n = notes()
  assert.equal(n.compile.code, 0, `examples/notes does not compile against the packed amorce:\n${n.compile.out}`)
  return n
}

// ---------------------------------------------------------------------------------------------
// The Site step: 4 files and one line

test('the Site step is 4 files (module, view, en, fr) plus its line in the step list, and nothing of Amorce knows it', async () => {
  const files: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (['node_modules', 'dist', 'generated', 'vendor', 'prisma'].includes(entry.name)) continue
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else files.push(path.relative(SOURCE, full))
    }
  }
  await walk(SOURCE)
  // The step's own files: everything named after it.
  assert.deepEqual(files.filter(f => /(^|[/\\])site\.[a-z]+$/.test(f)).sort(),
    ['locales/en/setup/site.json', 'locales/fr/setup/site.json', 'steps/site.ts', 'views/setup/site.eta'])
  // Its line in the list: the definition names the module once in its steps, besides importing it.
  const definition = await readFile(path.join(SOURCE, 'amorce.ts'), 'utf8')
  const uses = definition.split('\n').filter(line => line.includes('siteStep'))
  assert.deepEqual(uses.map(l => l.trim()), ["import { siteStep } from './steps/site.ts'", 'siteStep'])
  assert.match(definition, /steps: \[\n\s+\.\.\.defaultSteps,\n\s+siteStep\n\s+\]/)
  // Amorce itself never mentions it: no special case anywhere in the package's sources, views or texts.
  for (const dir of ['server', 'views', 'locales']) {
    const hits = await run('grep', ['-rlE', 'siteStep|setup\\.site\\.|SITE_TIMEZONE', dir], repoRoot)
    assert.equal(hits.out.trim(), '', `Amorce's ${dir}/ knows the Site step`)
  }
  // Its texts are complete in both languages (same keys).
  const keys = (o: Record<string, unknown>, p = ''): string[] => Object.entries(o).flatMap(([k, v]) => typeof v === 'object' && v ? keys(v as Record<string, unknown>, `${p}${k}.`) : [`${p}${k}`])
  const en = JSON.parse(await readFile(path.join(SOURCE, 'locales/en/setup/site.json'), 'utf8'))
  const fr = JSON.parse(await readFile(path.join(SOURCE, 'locales/fr/setup/site.json'), 'utf8'))
  assert.deepEqual(keys(fr).sort(), keys(en).sort())
})

test('the Site step validates its answer (IANA zones only, a name of 1 to 80 characters), is preset by SITE_NAME / SITE_TIMEZONE, and sums it up', async () => {
  const { dir } = compiledApp()
  const { siteStep, canonicalTimeZone } = await import(pathToFileURL(path.join(dir, 'dist/steps/site.js')).href)
  const submit = async (input: Record<string, string>) => {
    const ctx = { data: { answers: {} as Record<string, unknown> }, definition: { name: 'Notes' } }
    const outcome = await siteStep.submit(input, ctx)
    return { errors: outcome.errors ? Object.fromEntries(Object.entries(outcome.errors).map(([k, v]) => [k, (v as { key: string }).key])) : undefined, answer: ctx.data.answers.site, ctx }
  }
  const accepted = await submit({ name: '  Mon carnet ', timezone: 'america/new_york' })
  assert.equal(accepted.errors, undefined)
  assert.deepEqual(accepted.answer, { name: 'Mon carnet', timezone: 'America/New_York' }, 'trimmed, and the zone in its canonical spelling')
  for (const zone of ['+02:00', 'CET', 'Mars/Olympus_Mons', '', 'Europe/Paris/../x']) {
    assert.equal((await submit({ name: 'x', timezone: zone })).errors?.timezone, 'setup.site.errors.timezone', zone)
  }
  assert.equal(canonicalTimeZone('UTC'), 'UTC')
  assert.equal((await submit({ name: '   ', timezone: 'UTC' })).errors?.name, 'setup.site.errors.nameRequired')
  assert.equal((await submit({ name: 'é'.repeat(81), timezone: 'UTC' })).errors?.name, 'setup.site.errors.nameTooLong')
  assert.equal((await submit({ name: 'é'.repeat(80), timezone: 'UTC' })).errors, undefined)
  assert.deepEqual(siteStep.preset.env, ['SITE_NAME', 'SITE_TIMEZONE'])
  assert.deepEqual(siteStep.preset.input({ SITE_NAME: 'Ours', SITE_TIMEZONE: 'Asia/Tokyo' }, {}), { name: 'Ours', timezone: 'Asia/Tokyo' })
  assert.deepEqual(siteStep.preset.input({ SITE_NAME: 'Ours' }, {}), { name: 'Ours', timezone: 'UTC' })
  assert.equal(siteStep.preset.input({ SITE_TIMEZONE: 'Asia/Tokyo' }, {}), undefined)
  const { ctx } = await submit({ name: 'Ours', timezone: 'Asia/Tokyo' })
  assert.deepEqual(siteStep.summary(ctx), [{ key: 'setup.site.summary.name', value: 'Ours' }, { key: 'setup.site.summary.timezone', value: 'Asia/Tokyo' }])
})

// ---------------------------------------------------------------------------------------------
// The Prisma side on the three engines

type Client = Record<string, any>

/** The app's generated client (compiled) for a provider on a database URL, through the package's own adapters. */
async function notesClient (dir: string, provider: Provider, url: string, connection?: ServerConnection): Promise<Client> {
  // The adapters as the app resolves them (from its node_modules), through a module placed in its directory.
  const adapters = await import(pathToFileURL(path.join(dir, 'test-adapters.mjs')).href)
  const { PrismaClient } = await import(pathToFileURL(path.join(dir, 'dist/generated', provider, 'client.js')).href)
  if (provider === 'sqlite') return new PrismaClient({ adapter: new adapters.PrismaLibSql({ url }) })
  if (provider === 'postgresql') return new PrismaClient({ adapter: new adapters.PrismaPg({ connectionString: url }) })
  const { PrismaMariaDb } = adapters
  const c = connection!
  return new PrismaClient({ adapter: new PrismaMariaDb({ host: c.host, port: c.port, user: c.user, password: c.password || undefined, database: c.database, connectionLimit: 2 }) })
}

/** A fresh empty database of the provider (or undefined: the server is missing and the test was skipped). */
async function freshDatabase (t: TestContext, provider: Provider): Promise<{ url: string, connection?: ServerConnection } | undefined> {
  if (provider === 'sqlite') return { url: `file:${path.join(await tempDir(t, 'amorce-notes-db-'), 'notes.db')}` }
  if (!await requireServer(t, provider)) return undefined
  const connection = await createDatabase(t, provider)
  return { url: urlOf(connection), connection }
}

async function migrationsAndCrud (t: TestContext, provider: Provider): Promise<void> {
  const { dir } = notes()
  const db = await freshDatabase(t, provider)
  if (!db) return
  const result = await migrate({ provider, url: db.url, migrationsDir: path.join(dir, 'prisma', provider, 'migrations') })
  assert.deepEqual(result.applied, ['20261201235243_init'])
  const client = await notesClient(dir, provider, db.url, db.connection)
  t.after(() => client.$disconnect())

  const admin = await client.user.create({ data: { username: 'ada', email: 'ada@example.com', passwordHash: 'x', role: 'ADMIN' } })
  const member = await client.user.create({ data: { username: 'bob', email: 'bob@example.com', passwordHash: 'y' } })
  assert.equal(member.role, 'MEMBER', 'the enum default')
  const remindAt = new Date('2027-03-04T05:06:07.890Z')
  const note = await client.note.create({
    data: {
      title: 'Première note', meta: { color: 'blue', pinned: true, n: [1, 2] }, remindAt, hours: '12.75',
      attachment: new Uint8Array([0, 1, 254, 255]),
      author: { connect: { id: admin.id } },
      tags: { connectOrCreate: ['work', 'idées'].map(name => ({ where: { name }, create: { name } })) }
    }
  })
  await client.note.create({ data: { title: 'second', author: { connect: { id: member.id } }, tags: { connect: [{ name: 'work' }] } } })
  const read = await client.note.findUnique({ where: { id: note.id }, include: { tags: { orderBy: { name: 'asc' } }, author: true } })
  assert.equal(read.author.username, 'ada')
  assert.deepEqual(read.tags.map((tag: { name: string }) => tag.name), ['idées', 'work'])
  assert.deepEqual(read.meta, { color: 'blue', pinned: true, n: [1, 2] })
  assert.equal(read.remindAt.toISOString(), remindAt.toISOString())
  assert.equal(read.hours.toString(), '12.75')
  assert.deepEqual([...read.attachment], [0, 1, 254, 255])
  assert.equal(read.body, '', 'the string default')
  const work = await client.tag.findUnique({ where: { name: 'work' }, include: { notes: true } })
  assert.equal(work.notes.length, 2, 'the many-to-many relation, from the other side')
  assert.equal(await client.user.count({ where: { role: 'ADMIN' } }), 1)
  // Deleting the author deletes their notes (onDelete: Cascade) and their tag links, not the tags.
  await client.user.delete({ where: { id: admin.id } })
  assert.equal(await client.note.count(), 1)
  assert.equal((await client.tag.findUnique({ where: { name: 'idées' }, include: { notes: true } })).notes.length, 0)
  assert.equal(await client.tag.count(), 2)
  // Amorce's schema part is there, as Amorce reaches it.
  await client.setting.upsert({ where: { key: 'k' }, create: { key: 'k', value: 'v' }, update: { value: 'v' } })
  await client.auditLog.create({ data: { event: 'test', detail: null } })
  assert.equal((await client.setting.findUnique({ where: { key: 'k' } })).value, 'v')
}

// ---------------------------------------------------------------------------------------------
// The wizard, replayed, on each engine; then the app's own routes for the admin

/** A browser-less visitor with a cookie jar (the routes need the session and the CSRF token). */
function visitor (base: string) {
  const cookies = new Map<string, string>()
  const fetchWith = async (pathname: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${pathname}`, { ...init, redirect: 'manual', headers: { ...init.headers as Record<string, string>, cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } })
    for (const set of res.headers.getSetCookie()) {
      const [pair] = set.split(';')
      const at = pair.indexOf('=')
      cookies.set(pair.slice(0, at), pair.slice(at + 1))
    }
    return res
  }
  const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? assert.fail(`no CSRF token in the page:\n${html.slice(0, 500)}`)
  return {
    get: fetchWith,
    async post (pathname: string, form: Record<string, string>, csrfFrom: string) {
      const page = await (await fetchWith(csrfFrom)).text()
      return fetchWith(pathname, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, _csrf: csrfOf(page) }).toString() })
    }
  }
}


/** Notes' own routes for the admin (signed in with PASSWORD): sign in, list, write a note with tags; in English and in French. */
async function checkRoutes (url: string, client: Client): Promise<void> {
  const me = visitor(url)
  assert.equal((await me.get('/notes')).headers.get('location'), '/login', 'signed out: to the sign-in page')
  const wrong = await me.post('/login', { login: 'admin', password: 'not-it' }, '/login')
  assert.equal(wrong.status, 401)
  assert.match(await wrong.text(), /Wrong username or password\./)
  const signIn = await me.post('/login', { login: 'admin', password: PASSWORD }, '/login')
  assert.equal(signIn.status, 303, await signIn.text())
  assert.equal(signIn.headers.get('location'), '/notes')
  const created = await me.post('/notes', { title: 'Hello from the test', body: 'body', tags: 'Work, ideas, work', hours: '1,5' }, '/notes')
  assert.equal(created.status, 303, await created.text())
  const list = await (await me.get('/notes')).text()
  assert.match(list, /<h1>Carnet « test »<\/h1>/)
  assert.match(list, /Signed in as admin/)
  assert.match(list, /1 note</)
  assert.match(list, /Hello from the test/)
  assert.match(list, /<span class="tag">ideas<\/span> <span class="tag">work<\/span>/)
  const fr = await (await me.get('/notes?lang=fr')).text()
  assert.match(fr, /Connecté en tant que admin/)
  assert.match(fr, /1,5\u00a0h passées/)
  const invalid = await me.post('/notes', { title: '', tags: '' }, '/notes')
  assert.equal(invalid.status, 422)
  assert.match(await invalid.text(), /Donnez un titre à la note\./)
  const note = await client.note.findFirst({ include: { tags: { orderBy: { name: 'asc' } }, author: true } })
  assert.deepEqual([note.author.username, note.tags.map((x: { name: string }) => x.name), note.hours.toString(), note.meta], ['admin', ['ideas', 'work'], '1.5', { lang: 'en', tagCount: 2 }])
}

interface Install { env: NodeJS.ProcessEnv, database: { url: string } }
const sqliteInstall: { value?: Install } = {}
/** Directories kept for later tests of this file, removed when it ends. */
const keptDirs: string[] = []
after(() => Promise.all(keptDirs.map(d => rm(d, { recursive: true, force: true }))))

/** The Site settings the stage wrote, and the administrators in the User table. */
async function assertInstalled (client: Client, site: { name: string, timezone: string }): Promise<void> {
  assert.deepEqual((await client.setting.findMany({ where: { key: { startsWith: 'site.' } }, orderBy: { key: 'asc' } })).map((s: { key: string, value: string }) => [s.key, s.value]),
    [['site.name', site.name], ['site.timezone', site.timezone]])
  const admins = await client.user.findMany({ where: { role: 'ADMIN' } })
  assert.deepEqual(admins.map((u: { username: string }) => u.username), ['admin'])
  assert.match(admins[0].passwordHash, /^\$argon2id\$/)
}

async function unattendedOnSqlite (t: TestContext): Promise<void> {
  const { dir } = compiledApp()
  // Kept until the file ends (an `after` inside a test would run when the test ends): the backup test backs it up.
  const home = await mkdtemp(path.join(os.tmpdir(), 'amorce-notes-home-'))
  keptDirs.push(home)
  const database = { url: `file:${path.join(home, 'data', 'notes.db')}` }
  const env = {
    ENV_FILE: path.join(home, '.env'), DATA_DIR: path.join(home, 'data'), LOG_LEVEL: 'warn',
    DATABASE_PROVIDER: 'sqlite', DATABASE_URL: database.url, CACHE_BACKEND: 'filesystem', CACHE_DIR: path.join(home, 'data', 'cache'),
    ADMIN_USERNAME: 'admin', ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: PASSWORD,
    SITE_NAME: SITE.name, SITE_TIMEZONE: 'europe/paris'
  }
  const server = await startServer(t, env, dir, [path.join(dir, 'node_modules/amorce/dist/server/cli/index.js'), 'start'])
  assert.match(server.output(), /installed from the environment/, server.output())
  assert.ok(!server.output().includes(PASSWORD))
  const client = await notesClient(dir, 'sqlite', database.url)
  t.after(() => client.$disconnect())
  // The zone as the step validated it: its canonical spelling.
  await assertInstalled(client, { name: SITE.name, timezone: 'Europe/Paris' })
  await checkRoutes(server.url, client)
  // Stopped before the backup test backs its database up.
  assert.equal(await server.stop('SIGTERM'), 0)
  sqliteInstall.value = { env, database }
}

function databaseAnswer (provider: Provider, dbUrl: string, connection?: ServerConnection): Record<string, unknown> {
  if (provider === 'sqlite') return { provider, file: dbUrl.replace(/^file:/, '') }
  const c = connection!
  return { provider, host: c.host, port: c.port, user: c.user, ...(c.password ? { password: c.password } : {}), database: c.database, ssl: 'off' }
}

async function replayedOn (t: TestContext, provider: Provider): Promise<void> {
  const browser = chromiumPath(t)
  if (!browser) return
  const { dir } = compiledApp()
  const db = await freshDatabase(t, provider)
  if (!db) return
  const home = await tempDir(t, 'amorce-notes-home-')
  const env = { ENV_FILE: path.join(home, '.env'), DATA_DIR: path.join(home, 'data'), CHROMIUM_PATH: browser, LOG_LEVEL: 'warn' }
  // `amorce start` in the app's directory: the CLI loads its definition from package.json ("amorce": { "app" }).
  const server = await startServer(t, env, dir, [path.join(dir, 'node_modules/amorce/dist/server/cli/index.js'), 'start'])
  const answers = path.join(home, 'answers.json')
  await writeFile(answers, JSON.stringify({
    version: 1,
    language: 'en',
    database: databaseAnswer(provider, db.url, db.connection),
    cache: { backend: 'filesystem', dir: path.join(home, 'data/cache') },
    restore: null,
    admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' },
    site: SITE
  }))
  const started = performance.now()
  const replay = await run(process.execPath, [path.join(dir, 'node_modules/amorce/dist/server/replay/cli.js'), answers, '--url', server.url], dir, { ...env, ADMIN_PASSWORD: PASSWORD })
  console.log(`# notes replay on ${provider}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
  assert.equal(replay.code, 0, replay.out)
  assert.match(replay.out, /✓ site\s+\d+\.\d+ s/, 'the Site step was replayed from its section')
  assert.ok(!replay.out.includes(PASSWORD))

  // The Site stage stored the answers in the app's settings table; the admin is in its User table, role ADMIN.
  const client = await notesClient(dir, provider, db.url, db.connection)
  t.after(() => client.$disconnect())
  await assertInstalled(client, SITE)

  await checkRoutes(server.url, client)

  assert.equal(await server.stop('SIGTERM'), 0)
}

// ---------------------------------------------------------------------------------------------
// A backup of notes on SQLite restores into PostgreSQL and into MariaDB, rows and relations identical

/** Every row of the app, normalized (dates as ISO, decimals and bytes as text), relations (tags, notes) as ids; Json as is. */
async function snapshot (client: Client) {
  const norm = (v: unknown): unknown => v instanceof Date ? v.toISOString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex')
    : v && typeof v === 'object' && 'toFixed' in v ? String(v) : v
  const rows = (list: Array<Record<string, unknown>>) => list.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'tags' || k === 'notes' ? (v as Array<{ id: number }>).map(x => x.id) : norm(v)])))
  return {
    users: rows(await client.user.findMany({ orderBy: { id: 'asc' } })),
    notes: rows(await client.note.findMany({ orderBy: { id: 'asc' }, include: { tags: { select: { id: true }, orderBy: { id: 'asc' } } } })),
    tags: rows(await client.tag.findMany({ orderBy: { id: 'asc' }, include: { notes: { select: { id: true }, orderBy: { id: 'asc' } } } })),
    site: rows(await client.setting.findMany({ where: { key: { startsWith: 'site.' } }, orderBy: { key: 'asc' } })),
    audit: rows(await client.auditLog.findMany({ orderBy: { id: 'asc' } }))
  }
}

async function backupRestored (t: TestContext): Promise<void> {
  const { dir } = compiledApp()
  const source = sqliteInstall.value
  assert.ok(source, 'needs the unattended SQLite install')
  const cli = path.join(dir, 'node_modules/amorce/dist/server/cli/index.js')
  const sqlite = await notesClient(dir, 'sqlite', source.database.url)
  t.after(() => sqlite.$disconnect())
  // Something in every table and relation, beyond what the install wrote.
  await sqlite.note.create({ data: { title: 'binary', attachment: new Uint8Array([9, 8, 7]), remindAt: new Date('2030-01-01T00:00:00.001Z'), meta: [1, 'two', null], hours: '0.01', author: { connect: { username: 'admin' } }, tags: { connectOrCreate: [{ where: { name: 'ideas' }, create: { name: 'ideas' } }, { where: { name: 'solo' }, create: { name: 'solo' } }] } } })
  await sqlite.user.create({ data: { username: 'member', email: 'm@example.com', passwordHash: (await sqlite.user.findFirst()).passwordHash } })
  const before = await snapshot(sqlite)
  assert.ok(before.notes.length >= 2 && before.tags.length >= 3)

  const archive = path.join(await tempDir(t, 'amorce-notes-backup-'), 'notes.tar.gz')
  const backup = await run(process.execPath, [cli, 'backup', '--out', archive], dir, source.env)
  assert.equal(backup.code, 0, backup.out)
  assert.ok(existsSync(archive))

  await Promise.all((['postgresql', 'mysql'] as const).map(provider =>
    t.test(`into ${provider}`, async t => {
      if (!await requireServer(t, provider)) return
      const connection = await createDatabase(t, provider)
      const home = await tempDir(t, 'amorce-notes-restore-')
      const env = { ENV_FILE: path.join(home, '.env'), DATA_DIR: path.join(home, 'data') }
      await writeFile(env.ENV_FILE, `DATABASE_PROVIDER=${provider}\nDATABASE_URL=${urlOf(connection)}\n`, { mode: 0o600 })
      const restore = await run(process.execPath, [cli, 'restore', archive], dir, env)
      assert.equal(restore.code, 0, restore.out)
      const target = await notesClient(dir, provider, urlOf(connection), connection)
      t.after(() => target.$disconnect())
      const after = await snapshot(target)
      assert.deepEqual(after.users, before.users)
      assert.deepEqual(after.notes, before.notes)
      assert.deepEqual(after.tags, before.tags)
      assert.deepEqual(after.site, before.site)
      // The restore may add its own audit lines after the backup's; the backup's are all there, unchanged.
      assert.deepEqual(after.audit.slice(0, before.audit.length), before.audit)
    })))
}

// ---------------------------------------------------------------------------------------------
// Three lines of tests side by side, each test with its own server, database and temp dirs, waiting on events only
// (a server's ready message, a process's exit): the replays, one after another (three Chromiums at once would crowd
// a loaded machine toward the replay's 30 s per action); the unattended install, then its backup; the CRUD tests.

const PROVIDERS = ['sqlite', 'postgresql', 'mysql'] as const

/** Runs the tests one after another (each starts when the one before has ended, passed or failed). */
function inTurn (tests: Array<() => Promise<unknown>>): Promise<unknown> {
  return tests.reduce<Promise<unknown>>((previous, next) => previous.then(next), Promise.resolve())
}

test('notes on SQLite, PostgreSQL and MariaDB: the replayed wizard, an unattended install and its backup restored, migrations and CRUD', { concurrency: true }, async t => {
  await Promise.all([
    inTurn(PROVIDERS.map(provider => () => t.test(`notes on ${provider}: its wizard, replayed with a Site section, installs it, and its routes answer for the admin`,
      { timeout: 600_000 }, t => replayedOn(t, provider)))),
    inTurn([
      () => t.test('notes on sqlite, unattended: SITE_NAME and SITE_TIMEZONE preset the Site step, its stage stores them, and its routes answer', { timeout: 300_000 }, unattendedOnSqlite),
      () => t.test('a backup of notes on SQLite restores into PostgreSQL and into MariaDB with identical rows, relations included', { concurrency: true, timeout: 600_000 }, backupRestored)
    ]),
    inTurn(PROVIDERS.map(provider => () => t.test(`notes on ${provider}: Amorce's runner applies its migrations, and CRUD works through the real adapter`,
      { timeout: 300_000 }, t => migrationsAndCrud(t, provider))))
  ])
})
