// The product end to end: `npm start` on a fresh directory, then `npm run replay` walks the real
// wizard in headless Chromium, once in French and once in English, ending signed in.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { tempDir } from '../helpers/tmp.ts'
import { chromiumPath } from '../helpers/services.ts'
import { startServer, runReplay, freshServer, writeAnswers } from '../helpers/server.ts'
import { translator } from '../../server/i18n.ts'

const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'

// The tests are independent (a server and a directory each) and wait mostly on their replay's browser and
// server: two at a time (the two full replays first), so a file adds at most one replay to the machine's load.
describe('replay', { concurrency: 2 }, () => {
  for (const language of ['fr', 'en'] as const) {
    test(`replay in ${language}: fresh server → normal mode, health ok, .env 0600, /setup 404, restart stays installed`, { timeout: 600_000 }, async t => {
      const browser = chromiumPath(t)
      if (!browser) return
      const tr = translator(language)
      // In English the server keeps a token that starts with "-" (as a random one may): passed with --token-file.
      const dashToken = '-Tq8' + 'x'.repeat(28)
      const { dir, env, server } = await freshServer(t, browser, language === 'en' ? { 'setup-token': dashToken + '\n' } : {})
      assert.match(server.output(), /Setup token: [A-Za-z0-9_-]{32,}/)

      const answers = await writeAnswers(dir, {
        language,
        database: { provider: 'sqlite', file: 'data/app.db' },
        cache: { backend: 'filesystem', dir: 'data/cache' },
        admin: { username: 'admin', email: 'admin@example.com', password: '${ADMIN_PASSWORD}' }
      })
      if (language === 'en') {
        // A wrong token from SETUP_TOKEN: the page's message, once.
        const wrong = await runReplay([answers, '--url', server.url], { ...env, ADMIN_PASSWORD: PASSWORD, SETUP_TOKEN: 'not-the-token-0123456789abcdef' }, dir)
        assert.equal(wrong.code, 1, wrong.out)
        assert.equal(wrong.out.split('This token is not the one printed by the server').length - 1, 1, `the message once:\n${wrong.out}`)
        assert.match(wrong.out, /✗ token: This token is not the one printed by the server\. Copy it again/)
      }
      const tokenFile = path.join(dir, 'token.txt')
      await writeFile(tokenFile, dashToken + '\n', { mode: 0o600 })
      // fr: no token option, the replay reads ${DATA_DIR}/setup-token of the local server; en: --token-file.
      const started = performance.now()
      const run = await runReplay([answers, '--url', server.url, ...(language === 'en' ? ['--token-file', tokenFile] : [])], { ...env, ADMIN_PASSWORD: PASSWORD }, dir)
      const seconds = (performance.now() - started) / 1000
      assert.equal(run.code, 0, run.out)
      for (const step of ['token', 'language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize', 'login']) {
        assert.match(run.out, new RegExp(`✓ ${step}\\s+\\d+\\.\\d+ s`), `a line for ${step}`)
      }
      assert.ok(!run.out.includes(PASSWORD), 'the password is never printed')
      assert.ok(!run.out.includes(dashToken), 'nor the token')
      // Progress inside the install, as the page streams it.
      assert.match(run.out, new RegExp(`· ${tr('setup.finalize.stageNames.migrate')}: ${tr('setup.finalize.stages.migrationApplied', { name: '\u0001', index: 1, total: 1 }).split('\u0001')[0]}`))
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

  test('the token: --token=-abc, --token -abc and a --token-file are accepted; --token warns it is visible', async t => {
    const dir = await tempDir(t)
    const answers = await writeAnswers(dir, {
      language: 'en',
      database: { provider: 'sqlite', file: 'data/app.db' },
      cache: { backend: 'memory' },
      admin: { username: 'admin', email: 'admin@example.com', password: PASSWORD }
    })
    const tokenFile = path.join(dir, 'token')
    await writeFile(tokenFile, '-abc\n')
    // Nothing listens on port 9: the run fails at the token page (exit 1) or finds no browser (3), after the
    // arguments and the token were accepted; a refused argument is exit 2.
    // A "browser" that exits at once: a path that does not exist would fall back to /usr/bin/chromium
    // (findChromium), a real Chromium started each time only to find nothing on port 9.
    const noBrowser = { CHROMIUM_PATH: '/bin/false' }
    for (const args of [['--token=-abc'], ['--token', '-abc'], ['--token-file', tokenFile]]) {
      const run = await runReplay([answers, '--url', 'http://127.0.0.1:9', ...args], noBrowser, dir)
      assert.doesNotMatch(run.out, /ambiguous/, args.join(' '))
      assert.notEqual(run.code, 2, `${args.join(' ')}:\n${run.out}`)
      assert.equal(/--token is visible/.test(run.out), args[0].startsWith('--token') && !args[0].startsWith('--token-file'), `${args.join(' ')}: the warning`)
    }
    const missing = await runReplay([answers, '--url', 'http://example.invalid', '--token-file', path.join(dir, 'nope')], noBrowser, dir)
    assert.equal(missing.code, 2)
    assert.match(missing.out, /Cannot read the token file \/tmp\/\S+\/nope \(for http:\/\/example\.invalid\)\./)
  })

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
})
