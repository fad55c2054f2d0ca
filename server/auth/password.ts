// Admin passwords: strength estimated by zxcvbn-ts (dictionaries for en and fr, the user's own
// name and email as hints), hashed with argon2id. Feedback comes back as i18n keys (password.*).
import { createRequire } from 'node:module'
import type { TranslationKeys, ZxcvbnFactory } from '@zxcvbn-ts/core'

// The dictionaries weigh some 70 MB once loaded: only the wizard's admin step needs them, so they
// are required on first use and normal mode (login, hashing) never loads them.
const require = createRequire(import.meta.url)

/** argon2's native module, loaded at the first hash or sign-in rather than at every start. */
const argon2 = () => import('@node-rs/argon2')

export const MIN_PASSWORD_LENGTH = 10
export const MAX_PASSWORD_LENGTH = 256
/** zxcvbn score 0..4; 3 = "safely unguessable: moderate protection from offline slow-hash scenario". */
export const MIN_SCORE = 3

// Translations that map every feedback key to itself, so feedback is returned as keys we localize.
function keysAsTranslations (t: TranslationKeys): TranslationKeys {
  const identity = (o: Record<string, string>) => Object.fromEntries(Object.keys(o).map(k => [k, k]))
  return { ...t, warnings: identity(t.warnings) as TranslationKeys['warnings'], suggestions: identity(t.suggestions) as TranslationKeys['suggestions'] }
}

let factory: ZxcvbnFactory | undefined
function estimator (): ZxcvbnFactory {
  if (factory) return factory
  const { ZxcvbnFactory } = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core')
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common')
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en')
  const fr = require('@zxcvbn-ts/language-fr') as typeof import('@zxcvbn-ts/language-fr')
  factory = new ZxcvbnFactory({
    translations: keysAsTranslations(en.translations),
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary, ...Object.fromEntries(Object.entries(fr.dictionary).map(([k, v]) => [`fr_${k}`, v])) }
  })
  return factory
}

export interface PasswordVerdict {
  ok: boolean
  score: number
  /** i18n keys with params, the first is the main reason */
  reasons: Array<{ key: string, params?: Record<string, unknown> }>
}

export function checkPasswordStrength (password: string, userInputs: string[] = []): PasswordVerdict {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return { ok: false, score: 0, reasons: [{ key: 'password.tooShort', params: { min: MIN_PASSWORD_LENGTH } }] }
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    return { ok: false, score: 0, reasons: [{ key: 'password.tooLong', params: { max: MAX_PASSWORD_LENGTH } }] }
  }
  // Emails count as hints by their parts too: "jane.doe@x.org" → "jane", "doe", "x".
  const hints = userInputs.flatMap(s => [s, ...s.split(/[^\p{L}\p{N}]+/u)]).filter(s => s.length >= 3)
  const result = estimator().check(password, hints)
  if (result.score >= MIN_SCORE) return { ok: true, score: result.score, reasons: [] }
  const reasons: PasswordVerdict['reasons'] = [{ key: 'password.tooWeak' }]
  if (result.feedback.warning) reasons.push({ key: `password.warnings.${result.feedback.warning}` })
  for (const s of result.feedback.suggestions) reasons.push({ key: `password.suggestions.${s}` })
  return { ok: false, score: result.score, reasons }
}

// OWASP's argon2id baseline (19 MiB, 2 iterations, 1 lane): strong and still fast on a shared host.
const ARGON2_OPTIONS = { algorithm: 2 /* Argon2id */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const

// Tests where hashing is not the point (AMORCE_TEST_FAST_HASH=1, set by `npm test`) hash at
// argon2id's lowest cost. Honoured only inside node's test runner (NODE_TEST_CONTEXT) and never with
// NODE_ENV=production; a hash carries its own parameters, so verifying is the same either way.
const TEST_ONLY_FAST_OPTIONS = { algorithm: 2, memoryCost: 1024, timeCost: 1, parallelism: 1 } as const
export function fastTestHashing (env: NodeJS.ProcessEnv = process.env): boolean {
  return env.AMORCE_TEST_FAST_HASH === '1' && env.NODE_TEST_CONTEXT !== undefined && env.NODE_ENV !== 'production'
}

export async function hashPassword (password: string): Promise<string> {
  const { hash } = await argon2()
  return hash(password, fastTestHashing() ? TEST_ONLY_FAST_OPTIONS : ARGON2_OPTIONS)
}

export async function verifyPassword (passwordHash: string, password: string): Promise<boolean> {
  try {
    const { verify } = await argon2()
    return await verify(passwordHash, password)
  } catch {
    return false // malformed hash: never a match
  }
}
