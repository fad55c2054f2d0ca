// Cache in a directory: one JSON file per key (name = sha256 of the key), written atomically
// (temp file + rename) so a reader never sees half a value. For shared hosts without Redis.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { BaseCache, type Clock } from './cache.ts'

// `key` lets a scan tell entries apart (file names are hashes); files written before it was kept lack it.
interface Stored { expiresAt: number | null, value: unknown, key?: string }

export class FilesystemCache extends BaseCache {
  readonly backend = 'filesystem' as const
  private sweeper?: NodeJS.Timeout

  constructor (readonly dir: string, sweepEveryMs = 10 * 60_000, options: { now?: Clock } = {}) {
    super(options.now)
    if (sweepEveryMs > 0) {
      this.sweeper = setInterval(() => { this.sweep().catch(() => {}) }, sweepEveryMs)
      this.sweeper.unref()
    }
  }

  private file (key: string): string {
    const h = createHash('sha256').update(key).digest('hex')
    return path.join(this.dir, h.slice(0, 2), `${h}.json`)
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const file = this.file(key)
    let stored: Stored
    try {
      stored = JSON.parse(await readFile(file, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      if (err instanceof SyntaxError) { await rm(file, { force: true }); return undefined }
      throw err
    }
    if (stored.expiresAt !== null && stored.expiresAt <= this.now()) {
      await rm(file, { force: true })
      return undefined
    }
    return stored.value as T
  }

  async set (key: string, value: unknown, ttlMs?: number): Promise<void> {
    const file = this.file(key)
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`
    const stored: Stored = { expiresAt: ttlMs === undefined ? null : this.now() + ttlMs, value, key }
    try {
      await writeFile(tmp, JSON.stringify(stored), { mode: 0o600 })
      await rename(tmp, file)
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }
  }

  async delete (key: string): Promise<void> {
    await rm(this.file(key), { force: true })
  }

  /**
   * Reads every file. An entry written before keys were stored has no key: `match` alone decides for it, so
   * callers give a `match` that recognizes their values by themselves (a session: its cookie and its user).
   */
  async removeWhere (prefix: string, match: (value: unknown) => boolean): Promise<number> {
    let removed = 0
    const now = this.now()
    for (const file of await this.files()) {
      try {
        const stored: Stored = JSON.parse(await readFile(file, 'utf8'))
        if (stored.expiresAt !== null && stored.expiresAt <= now) continue
        if (stored.key !== undefined && !stored.key.startsWith(prefix)) continue
        if (match(stored.value)) { await rm(file, { force: true }); removed++ }
      } catch { /* vanished, being replaced or not ours */ }
    }
    return removed
  }

  private async files (): Promise<string[]> {
    const out: string[] = []
    let shards: string[]
    try { shards = await readdir(this.dir) } catch { return out }
    for (const shard of shards) {
      let names: string[]
      try { names = await readdir(path.join(this.dir, shard)) } catch { continue }
      for (const name of names) if (name.endsWith('.json')) out.push(path.join(this.dir, shard, name))
    }
    return out
  }

  /** Removes expired entries and stale temp files; returns how many files it removed. */
  async sweep (now = this.now()): Promise<number> {
    let removed = 0
    let shards: string[]
    try { shards = await readdir(this.dir) } catch { return 0 }
    for (const shard of shards) {
      let names: string[]
      try { names = await readdir(path.join(this.dir, shard)) } catch { continue }
      for (const name of names) {
        const file = path.join(this.dir, shard, name)
        try {
          if (name.endsWith('.tmp')) continue
          const stored: Stored = JSON.parse(await readFile(file, 'utf8'))
          if (stored.expiresAt !== null && stored.expiresAt <= now) { await rm(file, { force: true }); removed++ }
        } catch { /* vanished or being replaced: next sweep */ }
      }
    }
    return removed
  }

  async close (): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper)
  }
}
