// Tests the .env encoder against the real dotenv and node parsers, and the atomic writer on a real filesystem.
// (systemd's and Docker's readers: test/unit/config/env-readers.test.ts.)
import assert from 'node:assert/strict'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { parseEnv } from 'node:util'
import dotenv from 'dotenv'
import { fc, runs } from '../../helpers/fuzz.ts'
import {
  EnvValueError,
  envFileWritable,
  readEnvFile,
  serializeEnv,
  serializeEnvValue,
  writeEnvFile,
} from '../../../server/config/envfile.ts'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'amorce-envfile-'))
  t.after(() => fsp.rm(dir, { recursive: true, force: true }))
  return dir
}

function readBack (value: string): string | undefined {
  const text = `K=${serializeEnvValue(value)}\n`
  const node = parseEnv(text).K
  const read = dotenv.parse(text).K
  assert.equal(node, read, 'node reads what dotenv reads')
  return read
}

/**
 * The exact class the encoder claims, restated from the rules in envfile.ts: a value is written as it is, and only
 * when dotenv, node --env-file, systemd and Docker all read it back unchanged (test/unit/config/env-readers.test.ts
 * runs those readers themselves).
 */
function representable (v: string): boolean {
  for (const ch of v) {
    const cp = ch.codePointAt(0)!
    if (cp === 0 || cp === 0xfeff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return false
  }
  return !/[\r\n\u2028\u2029#\\$]/.test(v) && !/^['"`]/.test(v) && v.trim() === v && Buffer.byteLength(`K=${v}`) < 65536
}

function assertUnrepresentable (fn: () => unknown, reason?: string): void {
  assert.throws(fn, (err: unknown) => err instanceof EnvValueError && err.code === 'unrepresentable' && (reason === undefined || err.reason === reason))
}

const ROUND_TRIP_TABLE: [string, string][] = [
  ['plain', 'hello'],
  ['empty', ''],
  ['double quote inside', 'say "hi"'],
  ['single quote inside', "it's"],
  ['backtick inside', 'run `cmd`'],
  ['all quotes, one line', `a'b"c\`d`],
  ['quote last', "tail'"],
  ['spaces inside', 'a b  c'],
  ['tab inside', 'a\tb'],
  ['equals', 'k=v==w'],
  ['semicolon', 'a;b'],
  ['non-ASCII', 'é日本🎉'],
  ['nbsp inside', 'x\u00a0y'],
  ['url', 'postgresql://user:p%40ss@db:5432/app?sslmode=require'],
  ['url with every reserved character encoded', 'mysql://u%21%27%28%29%2A:p%23%24%5C%20@h:3306/d'],
  ['JSON', '{"a":[1,"b"],"c":"d"}'],
  ['base64url secret', 'q1w2-E3r4_T5y6U7i8O9p0AaSsDdFfGgHhJjKkLl'],
  ['ISO date', '2026-12-01T20:14:33.000Z'],
  ['Windows-less path', '/var/lib/amorce/data dir/app.db'],
]

for (const [name, value] of ROUND_TRIP_TABLE) {
  test(`written as it is, read back by dotenv and node: ${name}`, () => {
    assert.equal(representable(value), true)
    assert.equal(serializeEnvValue(value), value)
    assert.equal(readBack(value), value)
    const text = serializeEnv({ FIRST: 'x', K: value, LAST: "tail'" })
    assert.deepEqual(dotenv.parse(text), { FIRST: 'x', K: value, LAST: "tail'" })
    assert.deepEqual({ ...parseEnv(text) }, { FIRST: 'x', K: value, LAST: "tail'" })
  })
}

const UNREPRESENTABLE_TABLE: [string, string, string][] = [
  ['hash', 'a#b # c', 'hash'],
  ['hash first', '#start', 'hash'],
  ['dollar', '$HOME and ${VAR}', 'dollar'],
  ['backslash', 'back\\slash', 'backslash'],
  ['Windows path', 'C:\\data\\app.db', 'backslash'],
  ['newline', 'line1\nline2', 'lineBreak'],
  ['CRLF', 'crlf\r\nend', 'lineBreak'],
  ['line separator', 'a\u2028b', 'lineBreak'],
  ['line separator before quotes', 'x\u2028`y`', 'lineBreak'],
  ['quoted whole', "'quoted'", 'leadingQuote'],
  ['double quote first', '"dq', 'leadingQuote'],
  ['backtick first', '`x', 'leadingQuote'],
  ['leading space', '  leading', 'surroundingSpace'],
  ['trailing space', 'trailing ', 'surroundingSpace'],
  ['trailing vertical tab', 'x\u000b', 'surroundingSpace'],
  ['nbsp around', '\u00a0x\u00a0', 'surroundingSpace'],
  ['BOM first', '\ufeffx', 'invalidCharacter'],
  ['noncharacter', 'a\ufdd0b', 'invalidCharacter'],
  ['supplementary noncharacter', 'a\u{10ffff}', 'invalidCharacter'],
  ['lone surrogate', 'a\ud800b', 'invalidCharacter'],
  ['longer than Docker\'s line buffer', 'x'.repeat(70_000), 'tooLong'],
]

for (const [name, value, reason] of UNREPRESENTABLE_TABLE) {
  test(`refused, naming why, since no form reads back alike everywhere: ${name}`, () => {
    assert.equal(representable(value), false)
    assertUnrepresentable(() => serializeEnvValue(value, 'K'), reason)
    assert.throws(() => serializeEnv({ K: value }), (err: unknown) => err instanceof EnvValueError && err.key === 'K' && !err.message.includes(value))
  })
}

test('a value is written as it is; refusals never quote the value (it may be a secret)', () => {
  assert.equal(serializeEnvValue('hello'), 'hello')
  assert.equal(serializeEnvValue('a b'), 'a b')
  assert.equal(serializeEnvValue(''), '')
  assert.throws(() => serializeEnvValue('s3cret$pw', 'REDIS_PASSWORD'), /value of REDIS_PASSWORD cannot be written .* \(it holds a \$\)$/)
})

test('rejects NUL and invalid keys', () => {
  assert.throws(() => serializeEnvValue('a\0b', 'K'), (err: unknown) => err instanceof EnvValueError && err.code === 'nulByte' && err.key === 'K')
  for (const key of ['lower', '1ABC', 'A-B', 'A.B', '', 'É']) {
    assert.throws(() => serializeEnv({ [key]: 'v' }), (err: unknown) => err instanceof EnvValueError && err.code === 'badKey' && err.key === key)
  }
  assert.doesNotThrow(() => serializeEnv({ _A1: 'v', A_B_2: 'w' }))
})

// --- Properties -------------------------------------------------------------

const TRICKY = fc.constantFrom("'", '"', '`', '\\', '\n', '\r', '#', ' ', '\t', 'n', 'r', 'a', '=', '$', '{', '\u2028', '\u00a0', 'é', '🎉')

const VALUE_ARBITRARIES: [string, fc.Arbitrary<string>][] = [
  ['grapheme strings', fc.string({ unit: 'grapheme', maxLength: 30 })],
  ['full unicode strings', fc.string({ unit: 'binary', maxLength: 30 })],
  ['quote/newline/#/backslash strings', fc.string({ unit: TRICKY, maxLength: 16 })],
]

const RUNS = runs(3000)

for (const [name, arbitrary] of VALUE_ARBITRARIES) {
  test(`property (${RUNS} runs, ${name}): round-trips exactly iff in the documented class, else throws`, () => {
    fc.assert(fc.property(arbitrary, (value) => {
      if (value.includes('\0')) return // NUL has its own error, tested above
      if (representable(value)) {
        assert.equal(readBack(value), value)
      } else {
        assertUnrepresentable(() => serializeEnvValue(value))
      }
    }), { numRuns: RUNS })
  })
}

test(`property (${RUNS} runs): never throws on values made of characters every reader takes, not at the ends`, () => {
  const SAFE = fc.constantFrom("'", '"', '`', ' ', '\t', 'n', 'r', 'a', '=', '{', ';', '%', '@', ':', '/', '\u00a0', 'é', '🎉')
  const simple = fc.string({ unit: SAFE, maxLength: 16 }).map((v) => v.replace(/^[\s'"`]+/, '').trimEnd())
  fc.assert(fc.property(simple, (value) => {
    assert.equal(readBack(value), value)
  }), { numRuns: RUNS })
})

test(`property (${RUNS} runs): a whole file of representable values reads back exactly, whatever the neighbours`, () => {
  const value = fc.string({ unit: TRICKY, maxLength: 12 }).filter(representable)
  const comment = fc.string({ unit: TRICKY, maxLength: 12 })
  fc.assert(fc.property(value, value, value, comment, (a, b, c, note) => {
    const entries = { A: a, B: b, C: c }
    const text = serializeEnv(entries, { header: [note], comments: { B: note } })
    assert.deepEqual({ ...dotenv.parse(text) }, entries)
  }), { numRuns: RUNS })
})

test('serializeEnv: header, comments, order, one line per key, final newline', () => {
  const text = serializeEnv(
    { B_KEY: 'two', A_KEY: 'one words' },
    { header: ['Written by Amorce', 'line\u2028two'], comments: { A_KEY: 'first\nsecond' } },
  )
  assert.equal(text, [
    '# Written by Amorce',
    '# line',
    '# two',
    '',
    'B_KEY=two',
    '# first',
    '# second',
    'A_KEY=one words',
    '',
  ].join('\n'))
  assert.deepEqual({ ...dotenv.parse(text) }, { B_KEY: 'two', A_KEY: 'one words' })
})

test('a comment cannot smuggle in a key', () => {
  const text = serializeEnv({ A: '1' }, { header: ['x\u2028EVIL=1', 'y\rEVIL2=2'], comments: { A: 'z\u2029EVIL3=3' } })
  assert.deepEqual({ ...dotenv.parse(text) }, { A: '1' })
})

// --- Files ------------------------------------------------------------------

async function listDir (dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort()
}

test('readEnvFile: null when missing, parsed entries otherwise, other errors thrown', async (t) => {
  const dir = await tempDir(t)
  assert.equal(await readEnvFile(join(dir, '.env')), null)
  await fsp.writeFile(join(dir, '.env'), '# c\nA=1\nB="x\\ny"\n')
  assert.deepEqual(await readEnvFile(join(dir, '.env')), { A: '1', B: 'x\ny' })
  await assert.rejects(readEnvFile(dir), { code: 'EISDIR' })
})

test('writeEnvFile: round trip through the file, mode 0600, no backup the first time', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  const entries = Object.fromEntries(ROUND_TRIP_TABLE.map(([, value], i) => [`KEY_${i}`, value]))
  const result = await writeEnvFile(path, entries, { header: ['test'] })
  assert.equal(result.backupPath, null)
  assert.deepEqual(await readEnvFile(path), entries)
  assert.equal((await fsp.stat(path)).mode & 0o777, 0o600)
  assert.deepEqual(await listDir(dir), ['.env'])
})

test('writeEnvFile: keeps the previous file as a 0600 backup with its old content', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  await fsp.writeFile(path, 'OLD=1\n', { mode: 0o644 })
  await fsp.chmod(path, 0o644)

  const first = await writeEnvFile(path, { NEW: '2' })
  assert.ok(first.backupPath !== null)
  assert.match(first.backupPath, /\/\.env\.bak-\d{8}T\d{9}Z(-\d+)?$/)
  assert.equal(await fsp.readFile(first.backupPath, 'utf8'), 'OLD=1\n')
  assert.equal((await fsp.stat(first.backupPath)).mode & 0o777, 0o600)
  assert.equal((await fsp.stat(path)).mode & 0o777, 0o600)
  assert.deepEqual(await readEnvFile(path), { NEW: '2' })

  // Two writes in the same millisecond must not overwrite each other's backup.
  const second = await writeEnvFile(path, { NEW: '3' })
  assert.ok(second.backupPath !== null && second.backupPath !== first.backupPath)
  assert.equal(await fsp.readFile(second.backupPath, 'utf8'), 'NEW=2\n')
  assert.equal((await listDir(dir)).filter((name) => name.includes('.tmp-')).length, 0)
})

test('writeEnvFile: a failed rename leaves the old file intact and no temp file or backup behind', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  await fsp.writeFile(path, 'OLD=1\n')
  let renamed = 0
  const failingRename: typeof fsp.rename = async () => {
    renamed++
    throw Object.assign(new Error('simulated EIO'), { code: 'EIO' })
  }
  await assert.rejects(writeEnvFile(path, { NEW: '2' }, { io: { rename: failingRename } }), { code: 'EIO' })
  assert.equal(renamed, 1)
  assert.equal(await fsp.readFile(path, 'utf8'), 'OLD=1\n')
  assert.deepEqual(await listDir(dir), ['.env'])
})

test('writeEnvFile: a failure while writing the temp file leaves nothing behind', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  await fsp.writeFile(path, 'OLD=1\n')
  const failingOpen = (async (file: string, flags?: string, mode?: number) => {
    const fh = await fsp.open(file, flags, mode)
    return Object.assign(Object.create(fh) as fsp.FileHandle, {
      sync: async () => { throw Object.assign(new Error('simulated ENOSPC'), { code: 'ENOSPC' }) },
      close: () => fh.close(),
    })
  }) as typeof fsp.open
  await assert.rejects(writeEnvFile(path, { NEW: '2' }, { io: { open: failingOpen } }), { code: 'ENOSPC' })
  assert.equal(await fsp.readFile(path, 'utf8'), 'OLD=1\n')
  assert.deepEqual(await listDir(dir), ['.env'])
})

test('writeEnvFile: a directory in the way fails without touching it or leaving a temp file', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  await fsp.mkdir(path)
  await fsp.writeFile(join(path, 'inside'), 'x')
  await assert.rejects(writeEnvFile(path, { A: '1' }))
  assert.deepEqual(await listDir(dir), ['.env'])
  assert.deepEqual(await listDir(path), ['inside'])
})

test('writeEnvFile: an unrepresentable value is refused before the disk is touched', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  await fsp.writeFile(path, 'OLD=1\n')
  await assert.rejects(writeEnvFile(path, { A: ' a\\' }), (err: unknown) => err instanceof EnvValueError && err.code === 'unrepresentable')
  await assert.rejects(writeEnvFile(path, { bad: '1' }), (err: unknown) => err instanceof EnvValueError && err.code === 'badKey')
  assert.deepEqual(await listDir(dir), ['.env'])
  assert.equal(await fsp.readFile(path, 'utf8'), 'OLD=1\n')
})

test('writeEnvFile: a symlinked .env is updated where it points', async (t) => {
  const dir = await tempDir(t)
  await fsp.mkdir(join(dir, 'real'))
  const real = join(dir, 'real', 'app.env')
  await fsp.writeFile(real, 'OLD=1\n')
  const link = join(dir, '.env')
  await fsp.symlink(real, link)
  const { backupPath } = await writeEnvFile(link, { NEW: '2' })
  assert.ok((await fsp.lstat(link)).isSymbolicLink())
  assert.deepEqual(await readEnvFile(real), { NEW: '2' })
  assert.ok(backupPath?.startsWith(join(dir, 'real', 'app.env.bak-')))
})

// Permission bits do not stop root, so as root these checks run in a child process as `nobody`:
// the situation of a shared host, where the app runs as an unprivileged user.
const UNPRIVILEGED = 65534
const envfileModule = new URL('../../../server/config/envfile.ts', import.meta.url).href

/** Runs `body` (an async function body using the envfile module as `m`) as `nobody` when root, else here. */
async function unprivileged (dir: string, body: string): Promise<unknown> {
  if (process.getuid?.() !== 0) {
    const m = await import('../../../server/config/envfile.ts')
    // eslint-disable-next-line no-new-func
    return new Function('m', 'dir', `return (async () => { ${body} })()`)(m, dir)
  }
  await chownTree(dir, UNPRIVILEGED)
  const { spawnSync } = await import('node:child_process')
  const script = `const m = await import(${JSON.stringify(envfileModule)}); const dir = ${JSON.stringify(dir)};
    const out = await (async () => { ${body} })(); process.stdout.write(JSON.stringify(out ?? null))`
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script],
    { uid: UNPRIVILEGED, gid: UNPRIVILEGED, encoding: 'utf8', env: { ...process.env, HOME: dir } })
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

async function chownTree (dir: string, id: number): Promise<void> {
  await fsp.chmod(dir, 0o755)
  await fsp.chown(dir, id, id)
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await chownTree(join(dir, e.name), id)
    else await fsp.chown(join(dir, e.name), id, id)
  }
}

test('writeEnvFile: a read-only directory fails with EACCES and keeps the old file (as an unprivileged user)', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  await fsp.writeFile(path, 'OLD=1\n')
  const code = await unprivileged(dir, `
    const fs = await import('node:fs/promises')
    await fs.chmod(dir, 0o500)
    try { await m.writeEnvFile(dir + '/.env', { NEW: '2' }); return 'written' } catch (err) { return err.code } finally { await fs.chmod(dir, 0o700) }`)
  assert.equal(code, 'EACCES')
  assert.equal(await fsp.readFile(path, 'utf8'), 'OLD=1\n')
  assert.deepEqual(await listDir(dir), ['.env'])
})

// --- Writability check ------------------------------------------------------

test('envFileWritable: ok for a writable directory, with or without the file, and cleans up', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, '.env')
  assert.deepEqual(await envFileWritable(path), { ok: true })
  await fsp.writeFile(path, 'A=1\n')
  assert.deepEqual(await envFileWritable(path), { ok: true })
  assert.deepEqual(await listDir(dir), ['.env'])
  assert.equal(await fsp.readFile(path, 'utf8'), 'A=1\n')
})

test('envFileWritable: dirMissing for a missing directory or a path under a file', async (t) => {
  const dir = await tempDir(t)
  assert.equal((await envFileWritable(join(dir, 'nope', '.env'))).reason, 'dirMissing')
  await fsp.writeFile(join(dir, 'file'), 'x')
  const underFile = await envFileWritable(join(dir, 'file', '.env'))
  assert.equal(underFile.ok, false)
  assert.equal(underFile.reason, 'dirMissing')
})

test('envFileWritable: fileNotWritable when a directory sits at the path', async (t) => {
  const dir = await tempDir(t)
  await fsp.mkdir(join(dir, '.env'))
  const result = await envFileWritable(join(dir, '.env'))
  assert.equal(result.ok, false)
  assert.equal(result.reason, 'fileNotWritable')
})

test('envFileWritable: dirNotWritable when creating a file fails (read-only mount, simulated)', async (t) => {
  const dir = await tempDir(t)
  const readOnlyOpen = (async (file: string, flags?: string, mode?: number) => {
    if (flags === 'wx') throw Object.assign(new Error('simulated EROFS'), { code: 'EROFS' })
    return fsp.open(file, flags, mode)
  }) as typeof fsp.open
  const result = await envFileWritable(join(dir, '.env'), { io: { open: readOnlyOpen } })
  assert.deepEqual(result, { ok: false, reason: 'dirNotWritable', code: 'EROFS' })
})

test('envFileWritable: fileNotWritable and dirNotWritable from permission bits (as an unprivileged user)', async (t) => {
  const dir = await tempDir(t)
  await fsp.writeFile(join(dir, '.env'), 'A=1\n')
  const reasons = await unprivileged(dir, `
    const fs = await import('node:fs/promises')
    await fs.chmod(dir + '/.env', 0o400)
    const file = (await m.envFileWritable(dir + '/.env')).reason
    await fs.chmod(dir, 0o500)
    const directory = (await m.envFileWritable(dir + '/.env')).reason
    await fs.chmod(dir, 0o700)
    return { file, directory }`)
  assert.deepEqual(reasons, { file: 'fileNotWritable', directory: 'dirNotWritable' })
})
