// In-process cache, bounded by entry count (least recently used goes first). Lost on restart and
// not shared between instances: the wizard says so when it is chosen.
import { BaseCache, type Clock } from './cache.ts'

interface Entry { value: unknown, expiresAt: number }

export class MemoryCache extends BaseCache {
  readonly backend = 'memory' as const
  // A Map keeps insertion order: re-inserting on read makes its first key the least recently used.
  private readonly entries = new Map<string, Entry>()

  constructor (private readonly maxEntries = 10_000, options: { now?: Clock } = {}) { super(options.now) }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    this.entries.delete(key)
    if (entry.expiresAt <= this.now()) return undefined
    this.entries.set(key, entry)
    return structuredClone(entry.value) as T
  }

  async set (key: string, value: unknown, ttlMs?: number): Promise<void> {
    this.entries.delete(key)
    this.entries.set(key, { value: structuredClone(value), expiresAt: ttlMs === undefined ? Infinity : this.now() + ttlMs })
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
  }

  async delete (key: string): Promise<void> {
    this.entries.delete(key)
  }

  async removeWhere (prefix: string, match: (value: unknown) => boolean): Promise<number> {
    let removed = 0
    const now = this.now()
    for (const [key, entry] of [...this.entries]) {
      if (key.startsWith(prefix) && entry.expiresAt > now && match(structuredClone(entry.value))) {
        this.entries.delete(key)
        removed++
      }
    }
    return removed
  }

  get size (): number { return this.entries.size }
}
