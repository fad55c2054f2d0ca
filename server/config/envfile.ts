// Reads and atomically writes the `.env` file, with values encoded so that dotenv reads them back exactly.
import { randomBytes } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import dotenv from 'dotenv'

export type EnvValueErrorCode = 'unrepresentable' | 'badKey' | 'nulByte'

/** A key or value that cannot be written to a `.env` file without changing its meaning. */
export class EnvValueError extends Error {
  readonly code: EnvValueErrorCode
  readonly key: string

  constructor (code: EnvValueErrorCode, key: string) {
    super(envValueMessage(code, key))
    this.name = 'EnvValueError'
    this.code = code
    this.key = key
  }
}

function envValueMessage (code: EnvValueErrorCode, key: string): string {
  const name = key === '' ? 'value' : `value of ${key}`
  if (code === 'badKey') return `invalid .env key ${JSON.stringify(key)} (expected [A-Z_][A-Z0-9_]*)`
  if (code === 'nulByte') return `the ${name} contains a NUL character`
  return `the ${name} cannot be written to a .env file so that it reads back unchanged`
}

const KEY_RE = /^[A-Z_][A-Z0-9_]*$/
const QUOTES = ["'", '"', '`'] as const
type Quote = typeof QUOTES[number]

// ---------------------------------------------------------------------------
// Encoding. The rules below follow dotenv's default parser (a line regex whose
// quoted branches accept `\<quote>` and may span lines, whose fallback branch
// `[^#\r\n]+` is trimmed then loses one pair of outer quotes, and which turns
// `\n`/`\r` into newline/CR only when the value starts with `"`). Each rule is
// chosen so the result does not depend on the lines around it; every candidate
// is then still checked with the real parser before it is used.
//
// A value v (without NUL, well-formed UTF-16) is representable iff one of these holds:
//   bare:    no `#` CR LF U+2028 U+2029, v === v.trim(), v does not start with a quote
//   q ∈ ' `: no CR, and either (every q in v is preceded by `\` and v does not end with `\`)
//            or (some q in v is not preceded by `\` and v has no `#` LF U+2028 U+2029)
//   q = ":   v has no `\n`/`\r` two-character sequence, and either (every `"` is
//            preceded by `\` and v does not end with `\`) or (some `"` is not preceded
//            by `\` and v has no `#` U+2028 U+2029); LF and CR are written as `\n` `\r`
// ---------------------------------------------------------------------------

/** True when some `q` in `s` is not preceded by a backslash (dotenv's quoted branch must stop there). */
function hasUnescaped (s: string, q: Quote): boolean {
  for (let i = s.indexOf(q); i !== -1; i = s.indexOf(q, i + 1)) {
    if (i === 0 || s[i - 1] !== '\\') return true
  }
  return false
}

function bareCandidate (v: string): string | null {
  if (/[#\r\n\u2028\u2029]/.test(v)) return null
  if (v !== v.trim()) return null
  // A leading quote would let dotenv's quoted branch run on into later lines.
  if (/^['"`]/.test(v)) return null
  return v
}

/** `body` wrapped in `q`: either a proper quoted value or the fallback branch with outer quotes stripped. */
function quotedCandidate (body: string, q: Quote): string | null {
  if (body.includes('\r')) return null
  if (!hasUnescaped(body, q)) {
    // A trailing backslash escapes the closing quote, so the value could swallow later lines.
    return body.endsWith('\\') ? null : q + body + q
  }
  // The quoted branch is bound to fail on this line; the whole line must then be the fallback.
  if (/[#\n\u2028\u2029]/.test(body)) return null
  return q + body + q
}

function doubleQuotedCandidate (v: string): string | null {
  // dotenv has no escape for a backslash, so a literal `\n`/`\r` would be decoded.
  if (/\\[nr]/.test(v)) return null
  return quotedCandidate(v.replace(/\n/g, '\\n').replace(/\r/g, '\\r'), '"')
}

function candidates (v: string): string[] {
  const multiline = /[\r\n]/.test(v)
  const list = [
    bareCandidate(v),
    // One physical line per key reads better, so prefer `\n` escapes for multi-line values.
    multiline ? doubleQuotedCandidate(v) : null,
    quotedCandidate(v, "'"),
    doubleQuotedCandidate(v),
    quotedCandidate(v, '`'),
  ]
  return list.filter((c): c is string => c !== null)
}

const LONE_SURROGATE = /\p{Cs}/u

// Later lines that would capture a quoted value if its closing quote were not where we think it is.
const HOSTILE_TAIL = "Z1=a'\nZ2=a\"\nZ3=a`\n"

function readsBackAs (encoded: string, value: string): boolean {
  if (dotenv.parse(`K=${encoded}\n`).K !== value) return false
  const hostile = dotenv.parse(`K=${encoded}\n${HOSTILE_TAIL}`)
  return hostile.K === value && hostile.Z1 === "a'" && hostile.Z2 === 'a"' && hostile.Z3 === 'a`'
}

/** The text to put after `KEY=` so that dotenv reads back exactly `value`. */
export function serializeEnvValue (value: string, key = ''): string {
  if (value.includes('\0')) throw new EnvValueError('nulByte', key)
  // A lone surrogate has no UTF-8 form: the file would read back with U+FFFD instead.
  if (LONE_SURROGATE.test(value)) throw new EnvValueError('unrepresentable', key)
  for (const candidate of candidates(value)) {
    if (readsBackAs(candidate, value)) return candidate
  }
  throw new EnvValueError('unrepresentable', key)
}

export interface SerializeOptions {
  /** Lines written at the top, each prefixed with `# `. */
  header?: string[]
  /** A comment written above a key, keyed by the key name. */
  comments?: Record<string, string>
}

/** Comment text as `# ` lines; any line break (including U+2028/U+2029, which dotenv treats as one) starts a new line. */
function commentLines (text: string): string[] {
  return text.replace(/\0/g, '').split(/\r\n|[\r\n\u2028\u2029]/).map((line) => (line === '' ? '#' : `# ${line}`))
}

function assertKey (key: string): void {
  if (!KEY_RE.test(key)) throw new EnvValueError('badKey', key)
}

/** The whole file: header, then per key an optional comment and `KEY=value`, ending with a newline. */
export function serializeEnv (entries: Record<string, string>, opts: SerializeOptions = {}): string {
  const lines: string[] = []
  for (const line of opts.header ?? []) lines.push(...commentLines(line))
  if (lines.length > 0) lines.push('')
  for (const [key, value] of Object.entries(entries)) {
    assertKey(key)
    const comment = opts.comments?.[key]
    if (comment !== undefined) lines.push(...commentLines(comment))
    lines.push(`${key}=${serializeEnvValue(value, key)}`)
  }
  const text = lines.join('\n') + '\n'
  assertReadsBack(text, entries)
  return text
}

/** Defence in depth: the file as a whole must parse back to exactly the entries given. */
function assertReadsBack (text: string, entries: Record<string, string>): void {
  const parsed = dotenv.parse(text)
  for (const key of Object.keys(parsed)) {
    if (!Object.hasOwn(entries, key)) throw new EnvValueError('unrepresentable', key)
  }
  for (const [key, value] of Object.entries(entries)) {
    if (parsed[key] !== value) throw new EnvValueError('unrepresentable', key)
  }
}

function errorCode (err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined
}

/** The parsed file, or null when it does not exist. */
export async function readEnvFile (path: string): Promise<Record<string, string> | null> {
  let text: string
  try {
    text = await fsp.readFile(path, 'utf8')
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null
    throw err
  }
  return { ...dotenv.parse(text) }
}

/** File operations used by the writer; replaceable so tests can simulate failures root cannot provoke. */
export interface EnvFileIo {
  open: typeof fsp.open
  rename: typeof fsp.rename
  unlink: typeof fsp.unlink
  readFile: typeof fsp.readFile
  realpath: typeof fsp.realpath
  stat: typeof fsp.stat
}

const defaultIo: EnvFileIo = {
  open: fsp.open,
  rename: fsp.rename,
  unlink: fsp.unlink,
  readFile: fsp.readFile,
  realpath: fsp.realpath,
  stat: fsp.stat,
}

export interface WriteOptions extends SerializeOptions {
  /** Test seam: replace some file operations. */
  io?: Partial<EnvFileIo>
}

/** A symlinked `.env` is updated where it points, not replaced by a regular file. */
async function resolveTarget (io: EnvFileIo, path: string): Promise<string> {
  try {
    return await io.realpath(path)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return path
    throw err
  }
}

function randomSuffix (): string {
  return randomBytes(6).toString('hex')
}

/** `2024-05-06T07:08:09.123Z` → `20240506T070809123Z`. */
export function backupStamp (date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '')
}

/** Creates `path` exclusively with mode 0600, writes `data` and fsyncs it; on failure nothing is left behind. */
async function writeNewFile (io: EnvFileIo, path: string, data: string | Buffer): Promise<void> {
  const fh = await io.open(path, 'wx', 0o600)
  try {
    await fh.chmod(0o600) // the umask may have narrowed it; it must not be wider either
    await fh.writeFile(data)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await removeQuietly(io, path)
    throw err
  }
  await fh.close()
}

async function readExisting (io: EnvFileIo, path: string): Promise<Buffer | null> {
  try {
    return await io.readFile(path)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null
    throw err
  }
}

/** Copies the previous content next to the target; a same-millisecond clash gets a counter. */
async function writeBackup (io: EnvFileIo, target: string, content: Buffer): Promise<string> {
  const base = `${target}.bak-${backupStamp(new Date())}`
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`
    try {
      await writeNewFile(io, candidate, content)
      return candidate
    } catch (err) {
      if (errorCode(err) !== 'EEXIST' || n >= 100) throw err
    }
  }
}

/** Makes the rename durable. Best effort: it runs after the new file is already in place. */
async function syncDir (io: EnvFileIo, dir: string): Promise<void> {
  try {
    const fh = await io.open(dir, 'r')
    try { await fh.sync() } finally { await fh.close() }
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself is already synced.
  }
}

async function removeQuietly (io: EnvFileIo, path: string | null): Promise<void> {
  if (path === null) return
  try { await io.unlink(path) } catch { /* already gone */ }
}

/**
 * Replaces the file atomically (temp file in the same directory, fsync, rename, fsync directory),
 * keeping the previous content as `<path>.bak-<stamp>`. On failure the previous file is untouched.
 */
export async function writeEnvFile (
  path: string,
  entries: Record<string, string>,
  opts: WriteOptions = {},
): Promise<{ backupPath: string | null }> {
  const text = serializeEnv(entries, opts) // refuse before touching the disk
  const io: EnvFileIo = { ...defaultIo, ...opts.io }
  const target = await resolveTarget(io, path)
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomSuffix()}`)
  let tmpCreated = false
  let backupPath: string | null = null
  try {
    await writeNewFile(io, tmp, text)
    tmpCreated = true
    const previous = await readExisting(io, target)
    if (previous !== null) backupPath = await writeBackup(io, target, previous)
    await io.rename(tmp, target)
  } catch (err) {
    if (tmpCreated) await removeQuietly(io, tmp)
    await removeQuietly(io, backupPath) // the previous file is still in place, so the copy is redundant
    throw err
  }
  await syncDir(io, dirname(target))
  return { backupPath }
}

export interface EnvFileWritability {
  ok: boolean
  reason?: 'dirMissing' | 'dirNotWritable' | 'fileNotWritable'
  /** The errno code behind a failure, for the log. */
  code?: string
}

const MISSING_DIR_CODES = new Set(['ENOENT', 'ENOTDIR'])

/**
 * Whether `writeEnvFile(path)` can succeed, found by really creating and removing a file in the
 * directory (permission bits say nothing for root, nor for read-only mounts).
 */
export async function envFileWritable (path: string, opts: { io?: Partial<EnvFileIo> } = {}): Promise<EnvFileWritability> {
  const io: EnvFileIo = { ...defaultIo, ...opts.io }
  let target: string
  try {
    target = await resolveTarget(io, path)
  } catch (err) {
    const code = errorCode(err)
    return { ok: false, reason: MISSING_DIR_CODES.has(code ?? '') ? 'dirMissing' : 'dirNotWritable', code }
  }
  const dir = dirname(target)
  const dirState = await probeDir(io, dir, basename(target))
  if (dirState !== null) return dirState
  return probeFile(io, target)
}

async function probeDir (io: EnvFileIo, dir: string, name: string): Promise<EnvFileWritability | null> {
  try {
    if (!(await io.stat(dir)).isDirectory()) return { ok: false, reason: 'dirMissing', code: 'ENOTDIR' }
  } catch (err) {
    const code = errorCode(err)
    return { ok: false, reason: MISSING_DIR_CODES.has(code ?? '') ? 'dirMissing' : 'dirNotWritable', code }
  }
  const probe = join(dir, `.${name}.probe-${randomSuffix()}`)
  let created = false
  try {
    await writeNewFile(io, probe, 'probe')
    created = true
    return null
  } catch (err) {
    return { ok: false, reason: 'dirNotWritable', code: errorCode(err) }
  } finally {
    if (created) await removeQuietly(io, probe)
  }
}

/** An existing file must be openable for writing (without truncating it); a directory there fails too. */
async function probeFile (io: EnvFileIo, target: string): Promise<EnvFileWritability> {
  try {
    const fh = await io.open(target, 'r+')
    await fh.close()
    return { ok: true }
  } catch (err) {
    const code = errorCode(err)
    if (code === 'ENOENT') return { ok: true }
    return { ok: false, reason: 'fileNotWritable', code }
  }
}
