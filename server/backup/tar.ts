// A small ustar writer and a strict streaming reader. Written here rather than taken from a package (none is
// installed, and `tar`/`tar-stream` are built to extract anything): the restore must refuse hostile entries
// (links, devices, `..`, absolute paths, extended headers, duplicates) before a single byte is used, and read
// the archive as a stream with every size under our own caps.
import { BackupError } from './errors.ts'

export const BLOCK = 512
/** The largest size the 11 octal digits of ustar hold; bigger files use the base-256 form GNU tar reads. */
const OCTAL_MAX = 8 ** 11 - 1

function writeString (block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`)
  bytes.copy(block, offset)
}

function writeOctal (block: Buffer, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, '0') + '\0')
}

function writeSize (block: Buffer, offset: number, value: number): void {
  if (value <= OCTAL_MAX) return writeOctal(block, offset, 12, value)
  block[offset] = 0x80
  let rest = BigInt(value)
  for (let i = offset + 11; i > offset; i--) {
    block[i] = Number(rest & 0xffn)
    rest >>= 8n
  }
}

/** A regular file's 512-byte ustar header (mode 0644, owner 0, given mtime). */
export function fileHeader (name: string, size: number, mtime: Date = new Date()): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`)
  const block = Buffer.alloc(BLOCK)
  writeString(block, 0, 100, name)
  writeOctal(block, 100, 8, 0o644)
  writeOctal(block, 108, 8, 0)
  writeOctal(block, 116, 8, 0)
  writeSize(block, 124, size)
  writeOctal(block, 136, 12, Math.floor(mtime.getTime() / 1000))
  block.fill(0x20, 148, 156) // the checksum is computed with its own field as spaces
  block[156] = 0x30 // '0': regular file
  writeString(block, 257, 6, 'ustar\0')
  writeString(block, 263, 2, '00')
  writeString(block, 265, 32, 'amorce')
  writeString(block, 297, 32, 'amorce')
  writeOctal(block, 148, 7, checksum(block))
  block[155] = 0x20
  return block
}

/** Zero bytes that bring an entry's data to a whole number of blocks. */
export function padding (size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK)
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2)

function checksum (block: Buffer): number {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]
  return sum
}

function readString (block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length)
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? length : end).toString('utf8')
}

function readNumber (block: Buffer, offset: number, length: number): number {
  if (block[offset] & 0x80) {
    // base-256 (GNU): big-endian, positive only
    if (block[offset] !== 0x80) throw new BackupError('corrupt', 'negative or oversized base-256 number in a tar header')
    let value = 0n
    for (let i = offset + 1; i < offset + length; i++) value = (value << 8n) | BigInt(block[i])
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new BackupError('corrupt', 'tar size too large')
    return Number(value)
  }
  const text = readString(block, offset, length).trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) throw new BackupError('corrupt', `bad octal field in a tar header: ${JSON.stringify(text)}`)
  return parseInt(text, 8)
}

export interface EntryHeader { name: string; size: number; type: string }

/** What the restore accepts as an entry name: relative, no `..`, no backslash or control character. */
export function checkEntryName (name: string): void {
  if (name === '' || name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\') ||
    name.split('/').some(part => part === '..' || part === '.' || part === '') || /[\x00-\x1f\x7f]/.test(name)) {
    throw new BackupError('unsafePath', `unsafe entry name in the archive: ${JSON.stringify(name)}`, { name: name.slice(0, 120) })
  }
}

const TYPE_NAMES: Record<string, string> = {
  1: 'hard link', 2: 'symbolic link', 3: 'character device', 4: 'block device', 5: 'directory', 6: 'FIFO',
  7: 'contiguous file', g: 'global extended header', x: 'extended header', L: 'GNU long name', K: 'GNU long link'
}

/** Parses and checks one header block; null for an end-of-archive (zero) block. */
export function parseHeader (block: Buffer): EntryHeader | null {
  if (block.every(byte => byte === 0)) return null
  const stored = readNumber(block, 148, 8)
  if (stored !== checksum(block)) throw new BackupError('corrupt', 'tar header checksum mismatch')
  const prefix = readString(block, 257, 6) === 'ustar' ? readString(block, 345, 155) : ''
  const name = (prefix ? `${prefix}/` : '') + readString(block, 0, 100)
  const type = String.fromCharCode(block[156] || 0x30)
  checkEntryName(name)
  if (type !== '0') {
    throw new BackupError('entryType', `entry ${name} is a ${TYPE_NAMES[type] ?? `type ${JSON.stringify(type)} entry`}, not a regular file`, { name: name.slice(0, 120), type: TYPE_NAMES[type] ?? type })
  }
  return { name, size: readNumber(block, 124, 12), type }
}

/**
 * Pull-based reading of a byte stream: exact reads of `n` bytes without holding more than the stream's own chunks.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Buffer>
  private buffered: Buffer[] = []
  private length = 0
  private done = false

  constructor (source: AsyncIterable<Buffer>) { this.iterator = source[Symbol.asyncIterator]() }

  private async fill (n: number): Promise<void> {
    while (this.length < n && !this.done) {
      const next = await this.iterator.next()
      if (next.done) { this.done = true; break }
      if (next.value.length === 0) continue
      this.buffered.push(next.value)
      this.length += next.value.length
    }
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read (n: number): Promise<Buffer> {
    await this.fill(n)
    const all = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered)
    const out = all.subarray(0, Math.min(n, all.length))
    const rest = all.subarray(out.length)
    this.buffered = rest.length > 0 ? [rest] : []
    this.length = rest.length
    return out
  }

  /** Up to `max` bytes (at least one unless the stream ended), without copying when a chunk fits. */
  async readSome (max: number): Promise<Buffer> {
    await this.fill(1)
    if (this.buffered.length === 0) return Buffer.alloc(0)
    const first = this.buffered[0]
    if (first.length <= max) {
      this.buffered.shift()
      this.length -= first.length
      return first
    }
    this.buffered[0] = first.subarray(max)
    this.length -= max
    return first.subarray(0, max)
  }

  /** Reads and drops the rest of the stream (so that a truncated gzip tail is noticed). */
  async drain (): Promise<void> {
    this.buffered = []
    this.length = 0
    while (!(await this.iterator.next()).done) { /* the source enforces its own caps */ }
    this.done = true
  }
}

/**
 * Reads a tar stream entry by entry. For each regular file, `onEntry` receives its header and an iterable of its
 * data chunks, which it must consume fully. Anything but a regular file with a safe name is refused.
 */
export async function readTar (source: AsyncIterable<Buffer>, onEntry: (header: EntryHeader, body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const reader = new ByteReader(source)
  for (;;) {
    const block = await reader.read(BLOCK)
    if (block.length < BLOCK) throw new BackupError('truncated', 'the archive ends in the middle of a header')
    const header = parseHeader(block)
    if (header === null) {
      const second = await reader.read(BLOCK)
      if (second.length < BLOCK) throw new BackupError('truncated', 'the archive ends inside its end marker')
      if (!second.every(byte => byte === 0)) throw new BackupError('corrupt', 'data after an empty tar block')
      await reader.drain()
      return
    }
    let remaining = header.size
    let consumed = false
    const body = (async function * () {
      while (remaining > 0) {
        const chunk = await reader.readSome(Math.min(remaining, 1 << 20))
        if (chunk.length === 0) throw new BackupError('truncated', `the archive ends inside ${header.name}`, { name: header.name })
        remaining -= chunk.length
        yield chunk
      }
      consumed = true
    })()
    await onEntry(header, body)
    if (!consumed) for await (const _ of body) { /* skip what the caller did not read */ }
    const pad = (BLOCK - (header.size % BLOCK)) % BLOCK
    if (pad > 0 && (await reader.read(pad)).length < pad) throw new BackupError('truncated', 'the archive ends inside padding')
  }
}
