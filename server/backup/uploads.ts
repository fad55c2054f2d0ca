// Uploaded backups in DATA_DIR: one file per wizard session, with a random name (two sessions never share one),
// removed on Discard, on a new upload, after the install, and at start-up when no live session or install
// journal holds it (wizard sessions live in memory: after a restart, only a journaled install can resume).
import { randomBytes } from 'node:crypto'
import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'

export const UPLOAD_PREFIX = 'restore-upload-'
const UPLOAD_NAME = /^restore-upload-[0-9a-f]{24}\.tar\.gz(\.partial)?$/

/** A fresh upload path for one session (the verified file is renamed to it; `.partial` while it arrives). */
export function newUploadPath (dataDir: string): string {
  return path.join(dataDir, `${UPLOAD_PREFIX}${randomBytes(12).toString('hex')}.tar.gz`)
}

export function isUploadPath (dataDir: string, file: string | undefined): file is string {
  return file !== undefined && path.dirname(file) === path.resolve(dataDir) && UPLOAD_NAME.test(path.basename(file))
}

/** Removes an upload (only a file of ours in DATA_DIR: a backup given by its server path is never deleted). */
export async function removeUpload (dataDir: string, file: string | undefined): Promise<void> {
  if (isUploadPath(dataDir, file)) await rm(file, { force: true })
}

/**
 * Removes the uploads nothing holds any more: every upload except `keep` (those of live sessions and of an
 * install journal), and, with `olderThanMs`, only those not modified for that long.
 */
export async function sweepUploads (dataDir: string, keep: Iterable<string | undefined>, olderThanMs?: number): Promise<string[]> {
  const kept = new Set([...keep].filter((f): f is string => typeof f === 'string').map(f => path.resolve(f)))
  const entries = await readdir(dataDir).catch(() => [] as string[])
  const removed: string[] = []
  for (const name of entries) {
    if (!UPLOAD_NAME.test(name)) continue
    const file = path.join(path.resolve(dataDir), name)
    if (kept.has(file) || kept.has(file.replace(/\.partial$/, ''))) continue
    if (olderThanMs !== undefined) {
      const info = await stat(file).catch(() => null)
      if (!info || Date.now() - info.mtimeMs < olderThanMs) continue
    }
    await rm(file, { force: true })
    removed.push(name)
  }
  return removed
}
