// The setup token (after Jenkins): printed in the log and kept in ${DATA_DIR}/setup-token (0600);
// whoever holds it may run the wizard. Reused across restarts until it expires.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'

export const TOKEN_FILE_NAME = 'setup-token'

export async function ensureSetupToken (dataDir: string, ttlHours: number, now = Date.now()): Promise<{ token: string, file: string, created: boolean }> {
  const file = path.join(dataDir, TOKEN_FILE_NAME)
  const current = await stat(file).catch(() => null)
  if (current && now - current.mtimeMs < ttlHours * 3600_000) {
    const token = (await readFile(file, 'utf8')).trim()
    if (/^[A-Za-z0-9_-]{22,}$/.test(token)) return { token, file, created: false }
  }
  const token = newSetupToken()
  await mkdir(dataDir, { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, token + '\n', { mode: 0o600 })
  await rename(tmp, file)
  return { token, file, created: true }
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
