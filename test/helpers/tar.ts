// Hand-made tar archives for the backup tests: any entry type (links, devices, pax headers…), in any order,
// with or without the end-of-archive blocks, so that a test can build exactly the defect it is about.
import { END_OF_ARCHIVE, fileHeader, padding } from '../../server/backup/tar.ts'

export interface TarEntry { name: string, data: Buffer | string, type?: string }

/** A ustar header with another type flag than a regular file's, its checksum recomputed. */
export function tarHeader (name: string, size: number, type = '0'): Buffer {
  const block = fileHeader(name, size)
  if (type === '0') return block
  block[156] = type.charCodeAt(0)
  block.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of block) sum += byte
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1')
  return block
}

/** The entries as one (ungzipped) archive; `end: false` leaves out the end-of-archive blocks. */
export function tarOf (entries: TarEntry[], end = true): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    const data = Buffer.from(e.data)
    parts.push(tarHeader(e.name, data.length, e.type), data, padding(data.length))
  }
  if (end) parts.push(END_OF_ARCHIVE)
  return Buffer.concat(parts)
}
