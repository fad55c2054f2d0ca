// i18next set up from locales/<lang>/**/*.json; a file's path gives the first segments of its keys
// (locales/en/setup/database.json → `setup.database.title`), so a key says where its text lives.
// Amorce's own texts (en, fr) make the default translator (the CLI, the replay); an app instance builds its
// own (createI18n) from the host's locales first, then Amorce's, for the languages the host offers.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import i18next, { type TFunction } from 'i18next'
import { packageDir } from './paths.ts'

/** The languages Amorce itself is translated into. */
export const LANGUAGES = ['en', 'fr'] as const
export type Language = typeof LANGUAGES[number]
/**
 * A language an app offers: one of Amorce's own, or one a host translates (its `languages` option). Requests
 * carry it as `req.lang` (typed Language, which names the two Amorce ships texts for).
 */
export type LanguageTag = Language | (string & {})
export const DEFAULT_LANGUAGE: Language = 'en'

export const localesDir = packageDir('locales')

type Tree = Record<string, unknown>

function mergeInto (target: Tree, source: Tree, where: string): void {
  for (const [k, v] of Object.entries(source)) {
    const existing = target[k]
    if (existing && typeof existing === 'object' && v && typeof v === 'object') mergeInto(existing as Tree, v as Tree, `${where}.${k}`)
    else if (existing !== undefined) throw new Error(`locale key defined twice: ${where}.${k}`)
    else target[k] = v
  }
}

/** A host's tree over Amorce's: the host's text wins (that is how it overrides a default step's texts). */
function overlay (target: Tree, source: Tree): void {
  for (const [k, v] of Object.entries(source)) {
    const existing = target[k]
    if (existing && typeof existing === 'object' && v && typeof v === 'object') overlay(existing as Tree, v as Tree)
    else target[k] = v
  }
}

function loadDir (dir: string, into: Tree, prefix: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = entry.name.replace(/\.json$/, '')
    const node = (into[name] ??= {}) as Tree
    if (entry.isDirectory()) loadDir(path.join(dir, entry.name), node, `${prefix}${name}.`)
    else if (entry.name.endsWith('.json')) mergeInto(node, JSON.parse(readFileSync(path.join(dir, entry.name), 'utf8')), `${prefix}${name}`)
  }
}

export function loadResources (dir = localesDir, languages: readonly string[] = LANGUAGES): Record<string, Tree> {
  const resources: Record<string, Tree> = {}
  for (const lang of languages) {
    resources[lang] = {}
    if (existsSync(path.join(dir, lang))) loadDir(path.join(dir, lang), resources[lang], '')
  }
  return resources
}

/** One app instance's texts and languages. */
export interface I18n {
  /** the languages offered, the first the default */
  languages: readonly LanguageTag[]
  isLanguage(value: unknown): value is LanguageTag
  translator(lang: LanguageTag): TFunction
  /** the best offered language for an Accept-Language header */
  negotiate(header: string | undefined, fallback?: LanguageTag): LanguageTag
}

/**
 * The texts of an app: each language's files from every directory of `dirs`, the first directory's winning
 * (the host's `<root>/locales` before Amorce's). A language Amorce is not translated into falls back to
 * English for the texts the host did not give.
 */
export async function createI18n (dirs: readonly string[], languages: readonly LanguageTag[]): Promise<I18n> {
  const own = dirs.length === 1 && path.resolve(dirs[0]) === path.resolve(localesDir) && languages.every(l => isLanguage(l))
  const offered = (value: unknown): value is LanguageTag => typeof value === 'string' && languages.includes(value)
  const negotiate = (header: string | undefined, fallback: LanguageTag = languages[0]) => negotiateLanguage(header, offered(fallback) ? fallback : languages[0], offered)
  if (own) {
    // Amorce's own texts and languages: the default translator already holds them.
    return { languages, isLanguage: offered, translator: lang => translator(lang as Language), negotiate }
  }
  const resources: Record<string, Tree> = {}
  for (const dir of [...dirs].reverse()) {
    for (const [lang, tree] of Object.entries(loadResources(dir, languages))) overlay(resources[lang] ??= {}, tree)
  }
  const i18n = i18next.createInstance()
  await i18n.init({
    resources: Object.fromEntries(Object.entries(resources).map(([lng, r]) => [lng, { translation: r }])),
    fallbackLng: Object.fromEntries([['default', []], ...languages.filter(l => !isLanguage(l)).map(l => [l, [DEFAULT_LANGUAGE]])]),
    supportedLngs: [...new Set([...languages, DEFAULT_LANGUAGE])],
    interpolation: { escapeValue: false },
    returnNull: false
  })
  return { languages, isLanguage: offered, translator: lang => i18n.getFixedT(lang), negotiate }
}

const instance = i18next.createInstance()
await instance.init({
  resources: Object.fromEntries(Object.entries(loadResources()).map(([lng, r]) => [lng, { translation: r }])),
  fallbackLng: false,
  supportedLngs: [...LANGUAGES],
  interpolation: { escapeValue: false }, // Eta escapes on output; escaping twice would show &amp;
  returnNull: false
})

/** One of Amorce's own languages (en, fr). */
export function isLanguage (value: unknown): value is typeof LANGUAGES[number] {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value)
}

export function translator (lang: Language): TFunction {
  return instance.getFixedT(lang)
}

/** Picks a language from an Accept-Language header (by default one of Amorce's own), honouring q-values. */
export function negotiateLanguage (header: string | undefined, fallback?: Language): Language
export function negotiateLanguage (header: string | undefined, fallback: LanguageTag, accepts: (lang: string) => boolean): LanguageTag
export function negotiateLanguage (header: string | undefined, fallback: LanguageTag = DEFAULT_LANGUAGE, accepts: (lang: string) => boolean = isLanguage): LanguageTag {
  if (!header) return fallback
  const ranked = header.split(',').map((part, i) => {
    const [tag, ...params] = part.trim().split(';')
    const q = params.map(p => p.trim()).find(p => p.startsWith('q='))
    return { tag: tag.trim(), lang: tag.trim().toLowerCase().split('-')[0], q: q ? Number(q.slice(2)) : 1, i }
  }).filter(x => x.q > 0 && !Number.isNaN(x.q)).sort((a, b) => b.q - a.q || a.i - b.i)
  // The full tag first (pt-br), then its primary language (pt).
  for (const x of ranked) {
    const found = [x.tag, x.lang].find(accepts)
    if (found) return found
  }
  return fallback
}

/** File system error codes that have words in errors.fs.*; any other code is said as `other`. */
const FS_CODES = new Set(['EACCES', 'EPERM', 'EEXIST', 'ENOENT', 'ENOTDIR', 'EISDIR', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENAMETOOLONG', 'ELOOP', 'EBUSY', 'EIO'])

/** A code such as EEXIST as the param of a text saying `$t(errors.fs.{{code}})`: pages show words, never the raw code. */
export function fsCause (code: string | undefined | null): string {
  return code && FS_CODES.has(code) ? code : 'other'
}
