// i18next set up from locales/<lang>/**/*.json; a file's path gives the first segments of its keys
// (locales/en/setup/database.json → `setup.database.title`), so a key says where its text lives.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import i18next, { type TFunction } from 'i18next'
import { packageDir } from './paths.ts'

export const LANGUAGES = ['en', 'fr'] as const
export type Language = typeof LANGUAGES[number]
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

function loadDir (dir: string, into: Tree, prefix: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = entry.name.replace(/\.json$/, '')
    const node = (into[name] ??= {}) as Tree
    if (entry.isDirectory()) loadDir(path.join(dir, entry.name), node, `${prefix}${name}.`)
    else if (entry.name.endsWith('.json')) mergeInto(node, JSON.parse(readFileSync(path.join(dir, entry.name), 'utf8')), `${prefix}${name}`)
  }
}

export function loadResources (dir = localesDir): Record<string, Tree> {
  const resources: Record<string, Tree> = {}
  for (const lang of LANGUAGES) {
    resources[lang] = {}
    loadDir(path.join(dir, lang), resources[lang], '')
  }
  return resources
}

const instance = i18next.createInstance()
await instance.init({
  resources: Object.fromEntries(Object.entries(loadResources()).map(([lng, r]) => [lng, { translation: r }])),
  fallbackLng: false,
  supportedLngs: [...LANGUAGES],
  interpolation: { escapeValue: false }, // Eta escapes on output; escaping twice would show &amp;
  returnNull: false
})

/** A host's tree over Amorce's: the host's text wins (that is how it overrides a default step's texts). */
function overlay (target: Tree, source: Tree): void {
  for (const [k, v] of Object.entries(source)) {
    const existing = target[k]
    if (existing && typeof existing === 'object' && v && typeof v === 'object') overlay(existing as Tree, v as Tree)
    else target[k] = v
  }
}

/**
 * The texts of one app: each language's files from every directory of `dirs`, the first directory's winning
 * (a host's `<root>/locales` before Amorce's), in an i18next instance of its own (never the shared one).
 */
export async function createTranslator (dirs: readonly string[]): Promise<(lang: Language) => TFunction> {
  if (dirs.length === 1 && path.resolve(dirs[0]) === path.resolve(localesDir)) return translator
  const resources: Record<string, Tree> = {}
  for (const dir of [...dirs].reverse()) {
    for (const lang of LANGUAGES) {
      const tree: Tree = {}
      if (existsSync(path.join(dir, lang))) loadDir(path.join(dir, lang), tree, '')
      overlay(resources[lang] ??= {}, tree)
    }
  }
  const own = i18next.createInstance()
  await own.init({
    resources: Object.fromEntries(Object.entries(resources).map(([lng, r]) => [lng, { translation: r }])),
    fallbackLng: false,
    supportedLngs: [...LANGUAGES],
    interpolation: { escapeValue: false },
    returnNull: false
  })
  return lang => own.getFixedT(lang)
}

export function isLanguage (value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value)
}

export function translator (lang: Language): TFunction {
  return instance.getFixedT(lang)
}

/** Picks fr or en from an Accept-Language header, honouring q-values. */
export function negotiateLanguage (header: string | undefined, fallback: Language = DEFAULT_LANGUAGE): Language {
  if (!header) return fallback
  const ranked = header.split(',').map((part, i) => {
    const [tag, ...params] = part.trim().split(';')
    const q = params.map(p => p.trim()).find(p => p.startsWith('q='))
    return { lang: tag.trim().toLowerCase().split('-')[0], q: q ? Number(q.slice(2)) : 1, i }
  }).filter(x => x.q > 0 && !Number.isNaN(x.q)).sort((a, b) => b.q - a.q || a.i - b.i)
  return ranked.map(x => x.lang).find(isLanguage) ?? fallback
}

/** File system error codes that have words in errors.fs.*; any other code is said as `other`. */
const FS_CODES = new Set(['EACCES', 'EPERM', 'EEXIST', 'ENOENT', 'ENOTDIR', 'EISDIR', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENAMETOOLONG', 'ELOOP', 'EBUSY', 'EIO'])

/** A code such as EEXIST as the param of a text saying `$t(errors.fs.{{code}})`: pages show words, never the raw code. */
export function fsCause (code: string | undefined | null): string {
  return code && FS_CODES.has(code) ? code : 'other'
}
