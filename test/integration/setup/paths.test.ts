// Paths typed in the wizard mean exactly one file the app will use: SQLite paths with URL syntax
// (`?`, `#`, `%`) are refused rather than tested as one file and installed as another; devices, FIFOs
// and directories are refused; cache directories pass the .env writer's rules before Test says yes;
// system error codes are words in the reader's language. And a path with every other odd character
// is proven to be the very file the install then uses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createClient } from '@libsql/client'
import { authorizedClient, build, text, wizardAnswers, type Client } from '../../helpers/app.ts'
import { readEnvFile } from '../../../server/config/envfile.ts'
import { sqliteFilePath } from '../../../server/db/migrate.ts'

async function at (client: Client, dir: string, step: 'database' | 'cache', lang: 'en' | 'fr') {
  for (const [id, form] of wizardAnswers(dir, { lang })) {
    if (id === step) return
    const res = await client.post(`/setup/${id}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `${id}: ${text(res).match(/role="alert"[\s\S]{0,300}/)?.[0]}`)
  }
}

// French puts no-break spaces before « : » and inside « »: compared as plain spaces.
const alert = (res: { body: string }) => (text(res).match(/class="error"[^>]*>([^<]*)/g)?.join(' | ') ?? '').replace(/[\u00a0\u202f]/g, ' ')

test('SQLite paths with ?, # or % are refused (en, fr), and nothing is created', { timeout: 60_000 }, async t => {
  for (const [lang, message] of [['en', 'cannot contain “?”, “#” or “%”'], ['fr', 'ne peut pas contenir « ? », « # » ni « % »']] as const) {
    const { app, dir } = await build(t)
    const client = await authorizedClient(app)
    await at(client, dir, 'database', lang)
    const data = path.join(dir, 'data', 'dbs')
    await mkdir(data, { recursive: true })
    for (const name of ['q?mode=ro.db', 'hash#frag.db', 'pct%2e%41.db', 'x%00.db']) {
      for (const action of ['test', 'next']) {
        const res = await client.post('/setup/database', { provider: 'sqlite', instances: 'single', file: path.join(data, name), _action: action })
        assert.equal(res.statusCode, 422, `${name} ${action}`)
        assert.ok(alert(res).includes(message), `${lang} ${name}: ${alert(res)}`)
      }
    }
    assert.deepEqual(readdirSync(data), [], 'no file was created')
  }
})

test('devices, FIFOs, directories, a file in the way and control characters are refused with localized words, no raw errno', { timeout: 60_000 }, async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await at(client, dir, 'database', 'fr')
  const data = path.join(dir, 'data')
  await mkdir(data, { recursive: true })
  const fifo = path.join(data, 'pipe.db')
  const hasFifo = spawnSync('mkfifo', [fifo]).status === 0
  await writeFile(path.join(data, 'plain.txt'), 'x')
  const cases: Array<[string, string]> = [
    ['/dev/null', '/dev/null existe et n’est pas un fichier ordinaire'],
    ...(hasFifo ? [[fifo, 'pipe.db existe et n’est pas un fichier ordinaire'] as [string, string]] : []),
    [data, 'est un répertoire'],
    // mkdir names it EEXIST or ENOTDIR depending on the system call: either, in words.
    [path.join(data, 'plain.txt', 'app.db'), 'un fichier du même nom est sur le chemin|une partie du chemin est un fichier, pas un répertoire'],
    [path.join(data, 'line\nbreak.db'), 'saut de ligne']
  ]
  for (const [file, message] of cases) {
    const res = await client.post('/setup/database', { provider: 'sqlite', instances: 'single', file, _action: 'test' })
    assert.equal(res.statusCode, 422, `${JSON.stringify(file)}: ${alert(res)}`)
    assert.ok(message.split('|').some(m => alert(res).includes(m)), `${JSON.stringify(file)}: ${alert(res)}`)
    assert.doesNotMatch(alert(res), /\(E[A-Z]+\)|ENOTDIR|EEXIST/, 'no raw error code')
  }
  assert.ok(!existsSync('/dev/null-journal'), 'nothing left beside the device')
})

test('cache directories: the .env writer\'s rules before Test says yes; a file in the way is named in words (en, fr)', { timeout: 60_000 }, async t => {
  for (const [lang, words] of [
    ['en', ['line break', 'configuration file (.env)', 'a part of the path is a file, not a directory']],
    ['fr', ['saut de ligne', 'fichier de configuration (.env)', 'une partie du chemin est un fichier, pas un répertoire']]
  ] as const) {
    const { app, dir } = await build(t)
    const client = await authorizedClient(app)
    await at(client, dir, 'cache', lang)
    await writeFile(path.join(dir, 'data', 'plain.txt'), 'x')
    const dirs = [path.join(dir, 'data', 'c\nache'), path.join(dir, 'data', 'c\'a"c`h#e'), path.join(dir, 'data', 'plain.txt', 'cache')]
    for (const [i, cacheDir] of dirs.entries()) {
      for (const action of ['test', 'next']) {
        const res = await client.post('/setup/cache', { backend: 'filesystem', dir: cacheDir, _action: action })
        assert.equal(res.statusCode, 422, `${JSON.stringify(cacheDir)} ${action}`)
        assert.ok(alert(res).includes(words[i]), `${lang} ${JSON.stringify(cacheDir)}: ${alert(res)}`)
        assert.doesNotMatch(alert(res), /ENOTDIR|EEXIST/)
      }
    }
    assert.ok(!existsSync(dirs[0]) && !existsSync(dirs[1]), 'the refused directories were not created')
  }
})

test('the SQLite file tested is the file installed, whatever else the path holds (spaces, quotes, &, =, ;, @, [, ], +, unicode)', { timeout: 120_000 }, async t => {
  const { app, dir } = await build(t)
  const client = await authorizedClient(app)
  await at(client, dir, 'database', 'en')
  const place = path.join(dir, 'data', 'sub dir é', 'we\'ird &x=1;@[1]+ ü.db')
  // (`#` is refused in a .env value: no reader agrees on it)
  const cacheDir = path.join(dir, 'data', 'ca che "x"&=;')
  const tested = await client.post('/setup/database', { provider: 'sqlite', instances: 'single', file: place, _action: 'test' })
  assert.equal(tested.statusCode, 200, alert(tested))
  assert.ok(text(tested).includes(place), 'the test names the file')
  assert.equal((await client.post('/setup/database', { provider: 'sqlite', instances: 'single', file: place, _action: 'next' })).statusCode, 303)
  assert.equal((await client.post('/setup/cache', { backend: 'filesystem', dir: cacheDir, _action: 'next' })).statusCode, 303)
  for (const [id, form] of wizardAnswers(dir).slice(4)) {
    assert.equal((await client.post(`/setup/${id}`, { ...form, _action: 'next' })).statusCode, 303, id)
  }
  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.ok(install.body.includes('install-done'), install.body.match(/role="alert"[^<]*<[^<]*/)?.[0])
  assert.equal(app.amorce.mode, 'normal')

  const env = await readEnvFile(path.join(dir, '.env'))
  assert.equal(sqliteFilePath(env!.DATABASE_URL), place, 'the .env names the tested file')
  assert.equal(env!.CACHE_DIR, cacheDir, 'the cache directory reads back exactly')
  // The installed database is that file, and no other database file was made beside it.
  const db = createClient({ url: `file:${place}` })
  t.after(() => db.close())
  assert.equal(Number((await db.execute('SELECT COUNT(*) AS n FROM AdminUser')).rows[0].n), 1)
  assert.deepEqual(readdirSync(path.dirname(place)).filter(n => !n.endsWith('-wal') && !n.endsWith('-shm') && !n.endsWith('-journal')), [path.basename(place)])
})
