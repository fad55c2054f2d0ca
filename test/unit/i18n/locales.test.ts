// en and fr stay in step: same keys, no empty text, and every key the code or the templates use exists.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadResources, negotiateLanguage, translator } from '../../../server/i18n.ts'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const resources = loadResources()

function flatten (obj: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>()
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (v && typeof v === 'object') for (const [kk, vv] of flatten(v, key)) out.set(kk, vv)
    else out.set(key, v)
  }
  return out
}

const en = flatten(resources.en)
const fr = flatten(resources.fr)

function files (dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return e.name === 'generated' ? [] : files(p, ext)
    return p.endsWith(ext) ? [p] : []
  })
}

test('en and fr have the same keys', () => {
  assert.deepEqual([...fr.keys()].filter(k => !en.has(k)), [], 'keys only in fr')
  assert.deepEqual([...en.keys()].filter(k => !fr.has(k)), [], 'keys only in en')
})

test('no text is empty, and interpolations match between languages', () => {
  for (const [lang, map] of [['en', en], ['fr', fr]] as const) {
    for (const [k, v] of map) assert.ok(typeof v === 'string' && v.trim() !== '', `${lang}: ${k} is empty`)
  }
  // {{name}} or {{name, number(…)}}: the same names in both languages.
  const vars = (s: unknown) => [...String(s).matchAll(/\{\{(\w+)(?:,[^}]*)?\}\}/g)].map(m => m[1]).sort()
  for (const [k, v] of en) assert.deepEqual(vars(fr.get(k)), vars(v), `${k}: same {{placeholders}}`)
})

test('plurals are i18next plurals, never a “(s)” hack', () => {
  for (const [lang, map] of [['en', en], ['fr', fr]] as const) {
    const hacks = [...map].filter(([, v]) => /\p{L}\((?:s|e|es|x|ies)\)/u.test(String(v))).map(([k, v]) => `${lang}: ${k}: ${v}`)
    assert.deepEqual(hacks, [], 'use key_one / key_other with {{count}}')
    for (const k of map.keys()) {
      if (k.endsWith('_one')) assert.ok(map.has(k.replace(/_one$/, '_other')), `${lang}: ${k} has its _other`)
    }
  }
  assert.equal(translator('fr')('setup.prerequisites.errors.requiredFailing', { count: 1 }), '1 vérification requise est en échec. Corrigez-la, puis vérifiez à nouveau.')
  assert.match(translator('en')('setup.finalize.stages.migrated', { count: 2, already: 0 }), /^2 migrations applied/)
})

test('a sentence that ends with a period in English ends with one in French (advice and hints included)', () => {
  const missing = [...en].filter(([k, v]) => String(v).trimEnd().endsWith('.') !== String(fr.get(k)).trimEnd().endsWith('.')).map(([k]) => k)
  assert.deepEqual(missing, [])
})

test('French typography: a no-break space before « : ; ? ! » and inside « »', () => {
  const NBSP = '[\u00a0\u202f]'
  const bad: string[] = []
  for (const [k, raw] of fr) {
    // Placeholders, nested keys and quoted literals in English (console output such as « Setup token: … ») are not French text.
    const v = String(raw).replace(/\{\{[^}]*\}\}/g, 'X').replace(/\$t\([^)]*\)/g, 'X').replace(/«[\u00a0\u202f][\x20-\x7e…]+[\u00a0\u202f]»/g, 'X')
    const rules: Array<[RegExp, string]> = [
      [new RegExp(`(?<!${NBSP})[;?!»]`), 'no-break space before ; ? ! »'],
      [new RegExp(`«(?!${NBSP})`), 'no-break space after «'],
      [/(?<![\u00a0\u202f]):(?=\s|$)/, 'no-break space before :'],
      [/ %/, 'no-break space before %']
    ]
    for (const [re, rule] of rules) if (re.test(v)) bad.push(`${k}: ${rule}: ${raw}`)
  }
  assert.deepEqual(bad, [])
  assert.equal(translator('fr')('setup.cache.testResult.filesystem', { dir: '/d', free: 74.24 }), '/d fonctionne (création, écriture, renommage, suppression)\u202f; 74,2\u00a0Gio libres.')
})

// Keys are found as literal strings: t('a.b'), it.t('a.b'), key: 'a.b' or `a.b.${x}` (the prefix must exist).
const KEY = /['"`]((?:common|errors|setup|app|password|replay|cli)\.[A-Za-z0-9_.]+?)(\$\{[^}]*\}[A-Za-z0-9_.]*)?['"`]/g

function usedKeys (file: string): Array<{ key: string, dynamic: boolean }> {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(KEY)]
    .filter(m => !/\.(db|json|ts|eta|env|css|js)$/.test(m[1])) // file names such as 'app.db' are not keys
    .map(m => ({ key: m[1].replace(/\.$/, ''), dynamic: Boolean(m[2]) || m[1].endsWith('.') }))
}

test('every key used by templates and server code exists', () => {
  const used = [...files(path.join(root, 'views'), '.eta'), ...files(path.join(root, 'server'), '.ts')].flatMap(f => usedKeys(f).map(u => ({ ...u, file: path.relative(root, f) })))
  assert.ok(used.length > 100, `found ${used.length} keys: the scan works`)
  const exists = (key: string) => en.has(key) || en.has(`${key}_other`) // a plural: key_one, key_other
  const missing = used.filter(u => u.dynamic ? ![...en.keys()].some(k => k.startsWith(u.key + '.') || k.startsWith(u.key)) : !exists(u.key))
  assert.deepEqual(missing.map(m => `${m.file}: ${m.key}`), [])
})

test('templates build keys from prefixes that exist', () => {
  // it.t('setup.' + it.step + '.title') and the like: each step must have title and intro.
  for (const step of ['language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize']) {
    for (const leaf of ['title', 'intro']) assert.ok(en.has(`setup.${step}.${leaf}`), `setup.${step}.${leaf}`)
  }
})

test('Accept-Language negotiation honours order and q-values', () => {
  assert.equal(negotiateLanguage('fr-FR,fr;q=0.9,en;q=0.8'), 'fr')
  assert.equal(negotiateLanguage('de-DE,en;q=0.3,fr;q=0.5'), 'fr')
  assert.equal(negotiateLanguage('de, it'), 'en')
  assert.equal(negotiateLanguage('de', 'fr'), 'fr')
  assert.equal(negotiateLanguage('fr;q=0, en'), 'en')
  assert.equal(negotiateLanguage(undefined), 'en')
})

test('translations interpolate without HTML escaping (the templates escape)', () => {
  assert.equal(translator('fr')('setup.stepper.stepOf', { n: 2, total: 7 }), 'Étape 2 sur 7')
  assert.equal(translator('en')('app.dashboard.welcome', { username: '<b>' }), 'Signed in as <b>.')
})
