// The setup token (after Jenkins): printed in the log and kept in ${DATA_DIR}/setup-token (0600);
// whoever holds it may run the wizard. Reused across restarts until it expires.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'

export const TOKEN_FILE_NAME = 'setup-token'

export async function ensureSetupToken (dataDir: string, ttlHours: number, now = Date.now()): Promise<{ token: string, file: string, created: boolean, expiresAt: number }> {
  const file = path.join(dataDir, TOKEN_FILE_NAME)
  const current = await stat(file).catch(() => null)
  if (current && now - current.mtimeMs < ttlHours * 3600_000) {
    const token = (await readFile(file, 'utf8')).trim()
    if (/^[A-Za-z0-9_-]{22,}$/.test(token)) return { token, file, created: false, expiresAt: current.mtimeMs + ttlHours * 3600_000 }
  }
  const token = newSetupToken()
  await mkdir(dataDir, { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, token + '\n', { mode: 0o600 })
  await rename(tmp, file)
  // The file's own time, as a later start will read it.
  const born = (await stat(file)).mtimeMs
  return { token, file, created: true, expiresAt: born + ttlHours * 3600_000 }
}

export function newSetupToken (): string {
  return randomBytes(24).toString('base64url') // 192 bits
}

/** Constant-time comparison; hashing first makes lengths equal and hides the expected length. */
export function tokenMatches (given: unknown, expected: string): boolean {
  if (typeof given !== 'string' || given.length === 0 || given.length > 200) return false
  const a = createHash('sha256').update(given.trim()).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/**
 * Wrong-token attempts per client: past `max` failures within `windowMs`, every attempt is refused
 * unchecked until the window has moved on, so guessing is capped at `max` tries a minute.
 * Memory is bounded: the oldest client is forgotten past `maxClients`.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>()
  constructor (readonly max = 10, readonly windowMs = 60_000, private readonly maxClients = 10_000) {}

  /** Seconds to wait before trying again, or 0 when the client may try now. */
  retryAfter (client: string, now = Date.now()): number {
    const recent = this.recent(client, now)
    if (recent.length < this.max) return 0
    return Math.max(1, Math.ceil((recent[recent.length - this.max] + this.windowMs - now) / 1000))
  }

  fail (client: string, now = Date.now()): void {
    const recent = this.recent(client, now)
    recent.push(now)
    this.failures.delete(client) // re-inserted last: the Map's order is the eviction order
    this.failures.set(client, recent.slice(-this.max))
    if (this.failures.size > this.maxClients) this.failures.delete(this.failures.keys().next().value!)
  }

  private recent (client: string, now: number): number[] {
    return (this.failures.get(client) ?? []).filter(at => now - at < this.windowMs)
  }
}
