// Reads and atomically writes the `.env` file, in the one form dotenv, `node --env-file`, systemd and Docker all
// read back exactly (see the rules below).
import { randomBytes } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { parseEnv } from 'node:util'
import dotenv from 'dotenv'

export type EnvValueErrorCode = 'unrepresentable' | 'badKey' | 'nulByte'

/** A key or value that cannot be written to a `.env` file without changing its meaning. */
export class EnvValueError extends Error {
  readonly code: EnvValueErrorCode
  readonly key: string
  /** unrepresentable: the rule the value breaks (see below) */
  readonly reason?: EnvValueReason

  constructor (code: EnvValueErrorCode, key: string, reason?: EnvValueReason) {
    super(envValueMessage(code, key, reason))
    this.name = 'EnvValueError'
    this.code = code
    this.key = key
    if (reason !== undefined) this.reason = reason
  }
}

const REASON_TEXT: Record<EnvValueReason, string> = {
  lineBreak: 'a line break',
  hash: 'a #',
  backslash: 'a backslash',
  dollar: 'a $',
  leadingQuote: 'a quote first',
  surroundingSpace: 'spaces first or last',
  invalidCharacter: 'a character that is not valid there',
  tooLong: 'more than 64 KiB'
}

function envValueMessage (code: EnvValueErrorCode, key: string, reason?: EnvValueReason): string {
  const name = key === '' ? 'value' : `value of ${key}`
  if (code === 'badKey') return `invalid .env key ${JSON.stringify(key)} (expected [A-Z_][A-Z0-9_]*)`
  if (code === 'nulByte') return `the ${name} contains a NUL character`
  // The value itself is never part of the message: it may be a secret.
  return `the ${name} cannot be written to a .env file that dotenv, node --env-file, systemd and Docker all read the same` +
    (reason ? ` (it holds ${REASON_TEXT[reason]})` : '')
}

const KEY_RE = /^[A-Z_][A-Z0-9_]*$/

// ---------------------------------------------------------------------------
// Encoding: one form every reader agrees on. `docker run --env-file` takes the rest of the line after
// `KEY=` verbatim (no quotes, no escapes: docker/cli opts/file.go), so the only text it reads back as v is v
// itself; the value is therefore written bare, and accepted only when dotenv, `node --env-file`, systemd's
// EnvironmentFile= and Docker Compose read those same characters back as v. That holds iff v has:
//   - no line break (LF, CR, U+2028, U+2029): every reader ends the value at LF (CR); dotenv's multi-line regex
//     also starts over after U+2028/U+2029 when a quote follows (`x\u2028\`y\`` reads as `x\u2028y`);
//   - no `#`: dotenv and node cut an unquoted value at `#` (Compose at ` #`);
//   - no `\`: systemd reads it as an escape (`\x` → `x`);
//   - no `$`: Compose expands `$VAR` and `${VAR}` in unquoted values (so do shells);
//   - no quote ' " ` first: dotenv, node, systemd and Compose then read a quoted value;
//   - no whitespace first or last (any Unicode White_Space, as String.prototype.trim): each reader trims
//     its own set (dotenv all of them, node and systemd ASCII ones, Docker none);
//   - no NUL, lone surrogate, U+FEFF or Unicode noncharacter (U+FDD0–U+FDEF, U+xFFFE/U+xFFFF): a surrogate has
//     no UTF-8 form, and systemd refuses the whole file on a noncharacter;
//   - a line (KEY=value) under 64 KiB, Docker's line buffer.
// A value outside this class has no form they all read alike: it is refused (EnvValueError), never
// written in a form only some of them read. URLs keep their credentials inside it by percent-encoding
// every reserved character (server/db/url.ts, server/cache/redis-probe.ts).
// ---------------------------------------------------------------------------

/** Why a value has no portable form; `unrepresentable` errors carry it. */
export type EnvValueReason =
  | 'lineBreak' | 'hash' | 'backslash' | 'dollar' | 'leadingQuote' | 'surroundingSpace' | 'invalidCharacter' | 'tooLong'

/** Docker's bufio.Scanner refuses longer lines ("token too long"). */
export const MAX_LINE_BYTES = 64 * 1024 - 1

/** NUL, a lone surrogate, U+FEFF or a noncharacter (systemd's unichar_is_valid refuses the last). */
function invalidCharacter (value: string): boolean {
  for (const ch of value) {
    const cp = ch.codePointAt(0)!
    if (cp === 0 || cp === 0xFEFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) === 0xFFFE) return true
  }
  return false
}

/** The first rule `value` breaks, or null when it is written as it is. */
export function unportableReason (value: string, key = ''): EnvValueReason | null {
  if (invalidCharacter(value)) return 'invalidCharacter'
  if (/[\r\n\u2028\u2029]/.test(value)) return 'lineBreak'
  if (value.includes('#')) return 'hash'
  if (value.includes('\\')) return 'backslash'
  if (value.includes('$')) return 'dollar'
  if (/^['"`]/.test(value)) return 'leadingQuote'
  if (value !== value.trim()) return 'surroundingSpace'
  if (Buffer.byteLength(`${key}=${value}`, 'utf8') > MAX_LINE_BYTES) return 'tooLong'
  return null
}

/** dotenv and node's own parser (util.parseEnv: what `node --env-file` runs), on the text given. */
function parsers (text: string): Array<Record<string, string>> {
  return [{ ...dotenv.parse(text) }, { ...parseEnv(text) } as Record<string, string>]
}

/** The text to put after `KEY=`: the value itself, checked with the real parsers; throws EnvValueError otherwise. */
export function serializeEnvValue (value: string, key = ''): string {
  if (value.includes('\0')) throw new EnvValueError('nulByte', key)
  const reason = unportableReason(value, key)
  if (reason !== null) throw new EnvValueError('unrepresentable', key, reason)
  // Defence in depth: the rules above are what the parsers do; they are asked too.
  for (const parsed of parsers(`K=${value}\n`)) {
    if (parsed.K !== value) throw new EnvValueError('unrepresentable', key, 'invalidCharacter')
  }
  return value
}

export interface SerializeOptions {
  /** Lines written at the top, each prefixed with `# `. */
  header?: string[]
  /** A comment written above a key, keyed by the key name. */
  comments?: Record<string, string>
}

/**
 * Comment text as `# ` lines; any line break (including U+2028/U+2029, which dotenv and node treat as one) starts a
 * new line. A line ending in a backslash gets a space: systemd before v254 continues such a comment onto the next
 * line, which would hide the key written there.
 */
function commentLines (text: string): string[] {
  return text.replace(/\0/g, '').split(/\r\n|[\r\n\u2028\u2029]/).map((line) => (line === '' ? '#' : `# ${line}${line.endsWith('\\') ? ' ' : ''}`))
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
  for (const parsed of parsers(text)) {
    for (const key of Object.keys(parsed)) {
      if (!Object.hasOwn(entries, key)) throw new EnvValueError('unrepresentable', key)
    }
    for (const [key, value] of Object.entries(entries)) {
      if (parsed[key] !== value) throw new EnvValueError('unrepresentable', key)
    }
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
