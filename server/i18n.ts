// i18next set up from locales/<lang>/<file>.json; each file's name is the first segment of its keys
// (locales/en/setup.json → `setup.database.title`), so a key says where its text lives.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import i18next, { type TFunction } from 'i18next'

export const LANGUAGES = ['en', 'fr'] as const
export type Language = typeof LANGUAGES[number]
export const DEFAULT_LANGUAGE: Language = 'en'

export const localesDir = fileURLToPath(new URL('../locales/', import.meta.url))

export function loadResources (dir = localesDir): Record<string, Record<string, unknown>> {
  const resources: Record<string, Record<string, unknown>> = {}
  for (const lang of LANGUAGES) {
    const merged: Record<string, unknown> = {}
    for (const file of readdirSync(path.join(dir, lang)).filter(f => f.endsWith('.json')).sort()) {
      merged[path.basename(file, '.json')] = JSON.parse(readFileSync(path.join(dir, lang, file), 'utf8'))
    }
    resources[lang] = merged
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
