// The product end to end: `npm start` on a fresh directory, then `npm run replay` walks the real
// wizard in headless Chromium, once in French and once in English, ending signed in.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { tempDir } from '../helpers/tmp.ts'
import { chromiumPath } from '../helpers/services.ts'
import { startServer, runReplay, freshServer, writeAnswers } from '../helpers/server.ts'

const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'


for (const language of ['fr', 'en'] as const) {
  test(`replay in ${language}: fresh server → normal mode, health ok, .env 0600, /setup 404, restart stays installed`, { timeout: 600_000 }, async t => {
    const browser = chromiumPath(t)
    if (!browser) return
    const { dir, env, server } = await freshServer(t, browser)
    assert.match(server.output(), /Setup token: [A-Za-z0-9_-]{32,}/)

    const answers = await writeAnswers(dir, {
      language,
      database: { provider: 'sqlite', file: 'data/app.db' },
      cache: { backend: 'filesystem', dir: 'data/cache' },
      admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
    })
    // No --token: the replay reads ${DATA_DIR}/setup-token of the local server.
    const started = performance.now()
    const run = await runReplay([answers, '--url', server.url], { ...env, ADMIN_PASSWORD: PASSWORD }, dir)
    const seconds = (performance.now() - started) / 1000
    assert.equal(run.code, 0, run.out)
    for (const step of ['token', 'language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize', 'login']) {
      assert.match(run.out, new RegExp(`✓ ${step}\\s+\\d+\\.\\d+ s`), `a line for ${step}`)
    }
    assert.ok(!run.out.includes(PASSWORD), 'the password is never printed')
    console.log(`# full replay (${language}): ${seconds.toFixed(1)} s`)

    const health = await fetch(`${server.url}/health`)
    assert.equal(health.status, 200)
    assert.deepEqual(await health.json(), { status: 'ok', db: 'ok', cache: 'ok' })
    assert.equal((await fetch(`${server.url}/setup`, { redirect: 'manual' })).status, 404)
    assert.equal((await stat(path.join(dir, '.env'))).mode & 0o777, 0o600)
    assert.match(await readFile(path.join(dir, '.env'), 'utf8'), new RegExp(`APP_LOCALE=${language}`))
    assert.ok(!server.output().includes(PASSWORD), 'the password is never logged')

    assert.equal(await server.stop('SIGTERM'), 0, 'SIGTERM exits 0')
    const again = await startServer(t, env, dir)
    assert.match(again.output(), /running at .* \(installed\)/)
    assert.equal((await fetch(`${again.url}/health`)).status, 200)
    assert.equal((await fetch(`${again.url}/setup/language`, { redirect: 'manual' })).status, 404)
    const root = await fetch(`${again.url}/`, { redirect: 'manual' })
    assert.equal(root.headers.get('location'), '/login')

    // Replaying onto an installed server fails clearly, with the step and the reason.
    const twice = await runReplay([answers, '--url', again.url, '--token', 'x'], { ...env, ADMIN_PASSWORD: PASSWORD }, dir)
    assert.equal(twice.code, 1)
    assert.match(twice.out, /✗ token: the server is already installed/)
  })
}

test('a bad answers file is refused before any browser starts, with the JSON path of each problem', async t => {
  const dir = await tempDir(t)
  const answers = path.join(dir, 'bad.json')
  await writeFile(answers, JSON.stringify({ version: 1, language: 'de', database: { provider: 'sqlite' }, cache: { backend: 'filesystem' }, admin: { username: 'admin', email: 'a@b.c', password: '${NOT_SET_ANYWHERE}', role: 'x' } }))
  const run = await runReplay([answers, '--url', 'http://127.0.0.1:9'], { CHROMIUM_PATH: '/nonexistent' }, dir)
  assert.equal(run.code, 2)
  assert.match(run.out, /\$\.language: must be one of "en", "fr"/)
  assert.match(run.out, /\$\.database: must have required property 'file'/)
  assert.match(run.out, /\$\.cache: must have required property 'dir'/)
  assert.match(run.out, /\$\.admin\.role: unknown property/)
  assert.match(run.out, /\$\.admin\.password: environment variable NOT_SET_ANYWHERE is not set/)
  assert.doesNotMatch(run.out, /Chromium/)
})
