// The cache step over HTTP: Redis detected and preselected (or the directory, saying why), the
// Test action's outcome per cause in both languages, the password never echoed yet kept, and the
// answer reaching the summary and the .env.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { authorizedClient, build, STRONG_PASSWORD, text, type Client } from '../../helpers/app.ts'
import { requireRedis, requireRedisServerBinary, SHARED_REDIS_URL, startPrivateRedis } from '../../helpers/redis.ts'
import { cacheStep } from '../../../server/setup/steps/cache.ts'
import { createRegistry, newWizardData, type StepContext } from '../../../server/setup/registry.ts'
import { referenceDefinition } from '../../../server/app.ts'
import { translator } from '../../../server/i18n.ts'
import { loadConfig } from '../../../server/config/config.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { refusedPort } from '../../helpers/net.ts'

async function atCacheStep (t: TestContext, env: NodeJS.ProcessEnv = {}, lang: 'en' | 'fr' = 'en'): Promise<{ client: Client, dir: string }> {
  const { app, dir } = await build(t, { env })
  const client = await authorizedClient(app, { 'accept-language': lang })
  for (const [step, form] of [
    ['language', { language: lang }],
    ['prerequisites', {}],
    ['database', { provider: 'sqlite', file: path.join(dir, 'data', 'app.db') }]
  ] as const) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `${step}: ${text(res).match(/class="error"[^>]*>([^<]*)/)?.[1]}`)
  }
  return { client, dir }
}

const checked = (html: string, name: string) => [...html.matchAll(new RegExp(`name="${name}" value="([^"]+)" checked`, "g"))].map(m => m[1])

test('a reachable Redis is detected and preselected, with its version', async t => {
  if (!await requireRedis(t)) return
  const { client } = await atCacheStep(t, { REDIS_URL: SHARED_REDIS_URL })
  const page = await client.get('/setup/cache')
  assert.equal(page.statusCode, 200)
  // The shared Redis's database 0 may hold other tests' keys: then the page says so.
  assert.match(text(page), /Redis \d+\.\d+\.\d+ found at redis:\/\/127\.0\.0\.1:6379\/0: Redis is preselected(\.|, but its database 0 already holds [\d,]+ keys?\.)/)
  assert.deepEqual(checked(page.body, 'backend'), ['redis'])
})

test('no Redis reachable: the directory is preselected, and the page says why (fr)', async t => {
  const port = await refusedPort()
  const { client } = await atCacheStep(t, { REDIS_URL: `redis://127.0.0.1:${port}` }, 'fr')
  const page = await client.get('/setup/cache')
  assert.match(text(page), new RegExp(`Aucun Redis joignable à redis://127\\.0\\.0\\.1:${port}/0 \\(connexion refusée\\)\u00a0: un répertoire sur disque est présélectionné\\.`))
  assert.deepEqual(checked(page.body, 'backend'), ['filesystem'])
})

test('Test reports each cause in the page (en and fr), next to the field to change', async t => {
  if (!await requireRedis(t)) return
  const port = await refusedPort()
  const cases: Array<[Record<string, string>, RegExp, RegExp, string]> = [
    [{ redisInput: 'url', redisUrl: `redis://127.0.0.1:${port}/0` }, /Connection refused at redis:\/\/127\.0\.0\.1:\d+\/0/, /Connexion refusée à redis:\/\/127\.0\.0\.1:\d+\/0/, 'redisUrl'],
    [{ redisInput: 'url', redisUrl: `${SHARED_REDIS_URL}/99` }, /has no database 99 \(index out of range\)/, /n’a pas de base 99 \(numéro hors limites\)/, 'redisUrl'],
    [{ redisInput: 'fields', redisHost: '127.0.0.1', redisPort: '6379', redisDb: '99' }, /has no database 99/, /n’a pas de base 99/, 'redisDb'],
    [{ redisInput: 'url', redisUrl: 'http://127.0.0.1' }, /This is not a Redis address/, /Ce n’est pas une adresse Redis/, 'redisUrl'],
    [{ redisInput: 'fields', redisHost: 'no-such-host.invalid', redisPort: '6379', redisDb: '0' }, /The host name of redis:\/\/no-such-host\.invalid:6379\/0 is unknown/, /Le nom d’hôte de redis:\/\/no-such-host\.invalid:6379\/0 est inconnu/, 'redisHost'],
    [{ redisInput: 'fields', redisHost: '127.0.0.1', redisPort: '70000', redisDb: '0' }, /Enter a port number from 1 to 65535/, /Saisissez un numéro de port de 1 à 65535/, 'redisPort']
  ]
  for (const lang of ['en', 'fr'] as const) {
    const { client } = await atCacheStep(t, { REDIS_URL: SHARED_REDIS_URL }, lang)
    for (const [form, en, fr, field] of cases) {
      const res = await client.post('/setup/cache', { backend: 'redis', ...form, _action: 'test' })
      assert.equal(res.statusCode, 422, JSON.stringify(form))
      assert.match(text(res), lang === 'en' ? en : fr)
      assert.match(res.body, new RegExp(`id="f-${field}-error"`), `${JSON.stringify(form)}: error next to ${field}`)
    }
  }
})

test('a password is never echoed, is kept for Next, and stays out of the summary', async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t, ['--requirepass', 'Pw-In-The-Form-9'])
  const { client } = await atCacheStep(t, { REDIS_URL: redis.url })

  const first = await client.get('/setup/cache')
  assert.match(text(first), /a password is required/, 'detection names NOAUTH')
  const noauth = await client.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `${redis.url}/0`, _action: 'test' })
  assert.equal(noauth.statusCode, 422)
  assert.match(text(noauth), /requires a password \(NOAUTH\)/)
  assert.match(noauth.body, /id="f-redisPassword-error"/)
  const wrong = await client.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `${redis.url}/0`, redisPassword: 'nope-nope', _action: 'test' })
  assert.match(text(wrong), /refused this password \(WRONGPASS\)/)
  assert.doesNotMatch(wrong.body, /nope-nope/)

  // A password typed inside the URL works too, and comes back without it.
  const inUrl = await client.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `redis://:Pw-In-The-Form-9@127.0.0.1:${redis.port}/0`, _action: 'test' })
  assert.equal(inUrl.statusCode, 200, text(inUrl).match(/class="error"[^>]*>([^<]*)/)?.[1])
  assert.match(text(inUrl), /Connected to Redis \d+\.\d+\.\d+ at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0; round trip [\d.]+\u00a0ms\./)
  assert.match(inUrl.body, /data-test-result/)
  assert.doesNotMatch(inUrl.body, /Pw-In-The-Form-9/)
  assert.match(text(inUrl), /A password is already entered: leave empty to keep it\./)

  // Next with the password field left empty: the one entered is kept.
  const next = await client.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `${redis.url}/0`, redisPassword: '', _action: 'next' })
  assert.equal(next.statusCode, 303, text(next).match(/class="error"[^>]*>([^<]*)/)?.[1])
  const back = await client.get('/setup/cache')
  assert.doesNotMatch(back.body, /Pw-In-The-Form-9/)
  assert.deepEqual(checked(back.body, 'backend'), ['redis'])

  // The summary names Redis and its address, with the password masked.
  for (const [step, form] of [['restore', { mode: 'fresh' }], ['admin', { username: 'admin', email: 'admin@example.com', password: STRONG_PASSWORD, confirm: STRONG_PASSWORD }]] as const) {
    assert.equal((await client.post(`/setup/${step}`, { ...form, _action: 'next' })).statusCode, 303, step)
  }
  const summary = await client.get('/setup/finalize')
  assert.match(text(summary), new RegExp(`Redis — redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/0`))
  assert.doesNotMatch(summary.body, /Pw-In-The-Form-9/)
})

test('memory is accepted with its warning; the directory is tested', async t => {
  const { client, dir } = await atCacheStep(t, { REDIS_URL: `redis://127.0.0.1:${await refusedPort()}` })
  const mem = await client.post('/setup/cache', { backend: 'memory', _action: 'test' })
  assert.equal(mem.statusCode, 200)
  assert.match(text(mem), /everyone is signed out at every restart/)
  const bad = await client.post('/setup/cache', { backend: 'filesystem', dir: '/proc/amorce-cannot-write-here', _action: 'test' })
  assert.equal(bad.statusCode, 422)
  assert.match(text(bad), /cannot be created or written/)
  const good = await client.post('/setup/cache', { backend: 'filesystem', dir: path.join(dir, 'cache-here'), _action: 'test' })
  assert.equal(good.statusCode, 200)
  assert.match(text(good), /works \(create, write, rename, delete\); [\d.,]+\u00a0GiB free/)
})

test('several instances: only Redis is accepted, with the reason', async t => {
  const dir = await tempDir(t)
  const config = await loadConfig({ DATA_DIR: dir, ENV_FILE: path.join(dir, '.env'), REDIS_URL: `redis://127.0.0.1:${await refusedPort()}` }, dir)
  const data = newWizardData()
  data.answers.database = { provider: 'postgresql', multipleInstances: true } as unknown as typeof data.answers.database
  const ctx: StepContext = { config, data, lang: 'en', t: translator('en'), definition: referenceDefinition(), registry: createRegistry(), installing: false }
  for (const backend of ['filesystem', 'memory']) {
    const r = await cacheStep.submit({ backend, dir: path.join(dir, 'c') }, ctx)
    assert.equal(r.errors?.backend?.key, 'setup.cache.errors.redisRequired', backend)
  }
  const view = await cacheStep.view!(ctx, cacheStep.values(ctx))
  assert.equal(view.preselected, 'redis', 'Redis is preselected even when none is reachable')
  assert.equal(view.multipleInstances, true)
  assert.match(translator('fr')('setup.cache.errors.redisRequired'), /seul cache qu’elles peuvent partager/)
})

test('REDIS_URL given to the server with a password: detected, shown without it, and used on Next', async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t, ['--requirepass', 'From-The-Env-3'])
  const { client } = await atCacheStep(t, { REDIS_URL: `redis://:From-The-Env-3@127.0.0.1:${redis.port}/0` })
  const page = await client.get('/setup/cache')
  assert.match(text(page), new RegExp(`Redis \\d+\\.\\d+\\.\\d+ found at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/0`))
  assert.doesNotMatch(page.body, /From-The-Env-3/)
  assert.match(page.body, new RegExp(`value="redis://127\\.0\\.0\\.1:${redis.port}/0"`))
  const next = await client.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `redis://127.0.0.1:${redis.port}/0`, redisPassword: '', _action: 'next' })
  assert.equal(next.statusCode, 303, text(next).match(/class="error"[^>]*>([^<]*)/)?.[1])
})

test('a non-empty Redis database: the page says what it holds, and Next asks before using it (en, fr)', async t => {
  if (!await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t)
  const { Redis } = await import('ioredis')
  const raw = new Redis(`${redis.url}/0`, { lazyConnect: true })
  t.after(() => raw.disconnect())
  await raw.set('other-app:user:1', 'x')
  await raw.set('amorce:sess:old', 'y')
  const { client } = await atCacheStep(t, { REDIS_URL: `${redis.url}/0` })
  const page = await client.get('/setup/cache')
  assert.match(text(page), /but its database 0 already holds 2 keys\. Test it to see whose/)

  const form = { backend: 'redis', redisInput: 'url', redisUrl: `${redis.url}/0` }
  const tested = await client.post('/setup/cache', { ...form, _action: 'test' })
  assert.equal(tested.statusCode, 200)
  assert.match(text(tested), /Database 0 holds 2 keys, 1 of them prefixed with amorce: \(this application’s\): another application may use this database\./)
  const next = await client.post('/setup/cache', { ...form, _action: 'next' })
  assert.equal(next.statusCode, 422, 'not taken over silently')
  assert.match(next.body, /<a href="#f-confirmNonEmpty">Database 0 of this Redis is not empty \(2 keys\)/)
  assert.match(next.body, /id="f-confirmNonEmpty"[^>]*aria-invalid="true"/)
  const confirmed = await client.post('/setup/cache', { ...form, confirmNonEmpty: 'yes', _action: 'next' })
  assert.equal(confirmed.statusCode, 303)
  assert.equal(confirmed.headers.location, '/setup/restore')
  assert.equal(await raw.get('other-app:user:1'), 'x', 'the other keys are untouched')

  // An empty database index goes through without a question.
  const { client: fresh } = await atCacheStep(t, { REDIS_URL: `${redis.url}/3` }, 'fr')
  const empty = await fresh.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `${redis.url}/3`, _action: 'test' })
  assert.match(text(empty), /La base 3 est vide\u00a0: l’application y rangera ses clés, toutes préfixées par amorce:/)
  assert.equal((await fresh.post('/setup/cache', { backend: 'redis', redisInput: 'url', redisUrl: `${redis.url}/3`, _action: 'next' })).statusCode, 303)
})
