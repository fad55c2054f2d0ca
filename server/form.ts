// Form bodies as the routes read them, shared by setup and normal mode (normal mode must not load the
// wizard's modules just for this).
import type { Input } from './setup/wizard.ts'

const MAX_FIELD_LENGTH = 4096

/** Form bodies as flat strings: the first value of a repeated field, nothing but strings. */
export function formInput (body: unknown): Input {
  const input: Input = {}
  if (!body || typeof body !== 'object') return input
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    // `__proto__` would set the object's prototype, not a field: no form has a field of that name.
    if (key.length > 64 || key === '__proto__') continue
    const value = Array.isArray(raw) ? raw.find(v => typeof v === 'string') : raw
    if (typeof value === 'string') input[key] = value.slice(0, MAX_FIELD_LENGTH)
  }
  return input
}
