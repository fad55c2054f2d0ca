// Many servers: the --servers file in both forms, where each server's token comes from, the bound on replays
// at once, and that a failing server ends in its own outcome while the others run to their end.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { tempDir } from '../../helpers/tmp.ts'
import { defaultConcurrency, parseServersFile, pool, replayFleet, resolveToken, ServersFileError, TokenError, type Target } from '../../../server/replay/fleet.ts'
import { ReplayError, type ReplayOptions } from '../../../server/replay/replay.ts'
import { messageIndex } from '../../../server/replay/report.ts'
import { parseAnswers } from '../../../server/replay/answers.ts'

test('a servers file of lines: "<url> [<token>]", comments and blank lines skipped', () => {
  const entries = parseServersFile([
    '# staging',
    'http://10.0.0.1:3000  tok-one',
    '',
    'https://b.example/app/ ${TOKEN_B}   # behind a proxy',
    'http://127.0.0.1:3001'
  ].join('\n'), '/etc/amorce/servers.txt')
  assert.deepEqual(entries, [
    { url: 'http://10.0.0.1:3000', token: 'tok-one' },
    { url: 'https://b.example/app/', token: '${TOKEN_B}' },
    { url: 'http://127.0.0.1:3001' }
  ])
})

test('a servers file in JSON: an array or { servers }, its relative paths taken from the file\'s directory', () => {
  const json = [
    { url: 'http://a:3000', tokenFile: 'tokens/a', name: 'a' },
    { url: 'http://b:3000', dataDir: '../b/data', answers: 'b.json', variables: { DB_NAME: 'b' } }
  ]
  const expected = [
    { url: 'http://a:3000', tokenFile: '/srv/fleet/tokens/a', name: 'a' },
    { url: 'http://b:3000', dataDir: '/srv/b/data', answers: '/srv/fleet/b.json', variables: { DB_NAME: 'b' } }
  ]
  assert.deepEqual(parseServersFile(JSON.stringify(json), '/srv/fleet/servers.json'), expected)
  assert.deepEqual(parseServersFile(JSON.stringify({ servers: json }), '/srv/fleet/servers.json'), expected)
})

test('a bad servers file: every problem, each with where it is', () => {
  const problems = (text: string) => {
    try { parseServersFile(text, 'servers'); return [] } catch (err) {
      assert.ok(err instanceof ServersFileError)
      return err.problems.map(p => `${p.path} ${p.key}`)
    }
  }
  assert.deepEqual(problems(JSON.stringify([{ url: 'ftp://x', tokne: 'a' }, { url: 'http://y', token: 'a', tokenFile: 'f', variables: { A: 1 } }, 'http://z'])), [
    '$[0].tokne replay.servers.unknownProperty',
    '$[0].url replay.servers.url',
    '$[1].token replay.servers.tokenOrFile',
    '$[1].variables.A replay.servers.variables',
    '$[2] replay.servers.notObject'
  ])
  assert.deepEqual(problems('http://a:1 tok extra\nnot-a-url'), ['line 1 replay.servers.lineFormat', 'line 2 replay.servers.url'])
  assert.deepEqual(problems('# nothing\n'), ['$ replay.servers.empty'])
  assert.deepEqual(problems('{"servers": 3}'), ['$.servers replay.servers.notArray'])
  assert.deepEqual(problems('[{"url": '), ['$ replay.servers.notJson'])
})

test('a server\'s token: its own first, then --token, SETUP_TOKEN, --token-file, then a local data directory', async t => {
  const dir = await tempDir(t)
  const file = (name: string, content: string) => writeFile(path.join(dir, name), content).then(() => path.join(dir, name))
  const own = await file('own', ' -own-file\n')
  const global = await file('global', 'global-file\n')
  await mkdir(path.join(dir, 'data'))
  await file('data/setup-token', 'local-data\n')
  const base = { dataDir: path.join(dir, 'data'), env: {} as NodeJS.ProcessEnv }
  const local = 'http://127.0.0.1:3000'
  const remote = 'https://remote.example'

  assert.equal(await resolveToken({ url: remote, token: 'given' }, { ...base, token: 'cli', env: { SETUP_TOKEN: 'env' } }), 'given')
  assert.equal(await resolveToken({ url: remote, token: '${TOK}' }, { ...base, env: { TOK: ' from-env ' } }), 'from-env')
  assert.equal(await resolveToken({ url: remote, tokenFile: own }, { ...base, token: 'cli', env: { SETUP_TOKEN: 'env' } }), '-own-file', 'a token may start with "-"')
  assert.equal(await resolveToken({ url: remote }, { ...base, token: 'cli', env: { SETUP_TOKEN: 'env' } }), 'cli')
  assert.equal(await resolveToken({ url: remote }, { ...base, tokenFile: global, env: { SETUP_TOKEN: 'env\n' } }), 'env')
  assert.equal(await resolveToken({ url: remote }, { ...base, tokenFile: global }), 'global-file')
  assert.equal(await resolveToken({ url: local }, base), 'local-data')
  // A server's own data directory, even remote-looking (a proxy on this machine).
  assert.equal(await resolveToken({ url: remote, dataDir: path.join(dir, 'data') }, { ...base, dataDir: '/nowhere' }), 'local-data')

  const fails = async (entry: Parameters<typeof resolveToken>[0], defaults: Parameters<typeof resolveToken>[1], key: string) => {
    await assert.rejects(resolveToken(entry, defaults), (err: unknown) => err instanceof TokenError && err.key === key && !JSON.stringify(err.params).includes('local-data'))
  }
  await fails({ url: remote }, base, 'replay.token.remote')
  await fails({ url: remote, token: '${UNSET}' }, base, 'replay.token.envUnset')
  await fails({ url: remote, tokenFile: path.join(dir, 'missing') }, base, 'replay.token.unreadable')
  await fails({ url: local }, { ...base, dataDir: path.join(dir, 'missing') }, 'replay.token.noLocal')
  await fails({ url: remote, tokenFile: await file('empty', '\n') }, base, 'replay.token.empty')
})

test('pool: never more than the bound at once, results in the list\'s order, a failure stops nothing else', async () => {
  let active = 0
  let most = 0
  const done: number[] = []
  const items = [30, 5, 20, 1, 10, 2, 15]
  await assert.rejects(pool(items, 3, async (ms, i) => {
    active++
    most = Math.max(most, active)
    await new Promise(resolve => setTimeout(resolve, ms))
    active--
    done.push(i)
    if (i === 1) throw new Error('second failed')
    return i * 10
  }), /second failed/)
  assert.equal(most, 3)
  assert.deepEqual(done.sort(), [0, 1, 2, 3, 4, 5, 6], 'every item ran despite the failure')
  assert.deepEqual(await pool(items, 2, async (ms, i) => { await new Promise(resolve => setTimeout(resolve, ms)); return i }), [0, 1, 2, 3, 4, 5, 6])
  assert.deepEqual(await pool([], 4, async () => 1), [])
})

test('the default bound: one more than the cores, at least 2, at most 8', () => {
  assert.equal(defaultConcurrency(1), 2)
  assert.equal(defaultConcurrency(2), 3)
  assert.equal(defaultConcurrency(64), 8)
})

test('replayFleet: every server ends in its outcome; a failure names its step, key and message, the others finish', async () => {
  const answers = parseAnswers(JSON.stringify({ version: 1, language: 'en', restore: null, database: { provider: 'sqlite', file: 'data/app.db' }, cache: { backend: 'memory' }, admin: { username: 'admin', email: 'admin@example.com', password: 'x' } }))
  const targets: Target[] = ['a', 'b', 'c'].map(n => ({ name: n, url: `http://${n}:3000`, token: `tok-${n}`, answers }))
  const order: string[] = []
  let active = 0
  let most = 0
  const replayOne = async (opts: ReplayOptions) => {
    active++
    most = Math.max(most, active)
    try {
      for (const step of ['token', 'language', 'database']) {
        await new Promise(resolve => setTimeout(resolve, 5))
        if (opts.url === 'http://b:3000' && step === 'database') {
          throw new ReplayError('database', 'Some answers need your attention:\nNothing accepts connections at 127.0.0.1:1.\nCheck the port', '/tmp/shot.png')
        }
        opts.onStep?.({ step, ms: 5 })
      }
      if (opts.token !== `tok-${new URL(opts.url).hostname}`) throw new Error('each server gets its own token')
      return []
    } finally { active-- }
  }
  const outcomes = await replayFleet(targets, {
    concurrency: 2,
    chromiumPath: '/unused',
    keyOf: messageIndex('en'),
    replayOne,
    onDone: (target) => order.push(target.name)
  })
  assert.equal(most, 2)
  assert.deepEqual(order.sort(), ['a', 'b', 'c'])
  assert.deepEqual(outcomes.map(o => [o.name, o.status, o.failedStep]), [['a', 'ok', null], ['b', 'failed', 'database'], ['c', 'ok', null]])
  const b = outcomes[1]
  assert.equal(b.messageKey, 'setup.database.causes.refused')
  assert.match(b.message ?? '', /^Some answers need your attention:\nNothing accepts connections at 127\.0\.0\.1:1\./)
  assert.equal(b.screenshot, '/tmp/shot.png')
  assert.deepEqual(b.steps.map(s => [s.name, s.status, s.messageKey]), [['token', 'ok', null], ['language', 'ok', null], ['database', 'failed', 'setup.database.causes.refused']])
  assert.deepEqual(outcomes[0].steps.map(s => s.name), ['token', 'language', 'database'])
  for (const o of outcomes) assert.ok(o.seconds >= o.steps.reduce((n, s) => n + (s.status === 'ok' ? s.seconds : 0), 0) - 0.02)
})

test('replayFleet: a thrown error that is not a replay\'s own still ends that server only', async () => {
  const answers = parseAnswers(JSON.stringify({ version: 1, language: 'en', restore: null, database: { provider: 'sqlite', file: 'data/app.db' }, cache: { backend: 'memory' }, admin: { username: 'admin', email: 'admin@example.com', password: 'x' } }))
  const outcomes = await replayFleet([{ name: 'x', url: 'http://x', token: 't', answers }, { name: 'y', url: 'http://y', token: 't', answers }], {
    concurrency: 4,
    chromiumPath: '/unused',
    keyOf: messageIndex('en'),
    replayOne: async opts => { if (opts.url === 'http://x') throw new TypeError('boom\nstack'); return [] }
  })
  assert.deepEqual(outcomes.map(o => [o.status, o.failedStep, o.message]), [['failed', 'start', 'boom'], ['ok', null, null]])
})
