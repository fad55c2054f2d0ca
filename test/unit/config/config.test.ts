// Tests loadConfig: defaults, .env file values, environment precedence, validation and path resolution.
import assert from 'node:assert/strict'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ConfigError, ENV_KEYS, envFileEntries, loadConfig } from '../../../server/config/config.ts'
import { readEnvFile, writeEnvFile } from '../../../server/config/envfile.ts'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'amorce-config-'))
  t.after(() => fsp.rm(dir, { recursive: true, force: true }))
  return dir
}

function isConfigError (code: string, key: string) {
  return (err: unknown) => err instanceof ConfigError && err.code === code && err.key === key
}

test('defaults with an empty environment and no .env file', async (t) => {
  const cwd = await tempDir(t)
  const config = await loadConfig({}, cwd)
  assert.deepEqual(config, {
    envFile: join(cwd, '.env'),
    dataDir: join(cwd, 'data'),
    port: 3000,
    host: '0.0.0.0',
    basePath: '',
    trustProxy: 0,
    logLevel: 'info',
    setupTokenTtlHours: 24,
    installed: false,
    values: {},
    fromEnvironment: [],
  })
})

test('reads the application values from the .env file', async (t) => {
  const cwd = await tempDir(t)
  await fsp.writeFile(join(cwd, '.env'), [
    'DATABASE_PROVIDER=postgresql',
    'DATABASE_URL="postgresql://u:p@db:5432/app"',
    'CACHE_BACKEND=redis',
    'REDIS_URL=redis://cache:6379/0',
    'SESSION_SECRET=s3cret',
    'APP_LOCALE=fr',
    'PORT=8080',
    '',
  ].join('\n'))
  const config = await loadConfig({}, cwd)
  assert.deepEqual(config.values, {
    databaseProvider: 'postgresql',
    databaseUrl: 'postgresql://u:p@db:5432/app',
    cacheBackend: 'redis',
    redisUrl: 'redis://cache:6379/0',
    sessionSecret: 's3cret',
    appLocale: 'fr',
  })
  assert.equal(config.port, 8080)
  assert.equal(config.installed, false)
  assert.deepEqual(config.fromEnvironment, [])
})

test('the process environment wins over the .env file and is listed in fromEnvironment', async (t) => {
  const cwd = await tempDir(t)
  await fsp.writeFile(join(cwd, '.env'), 'DATABASE_URL=file:/from/file.db\nAPP_LOCALE=fr\nPORT=8080\nLOG_LEVEL=debug\n')
  const env = { DATABASE_URL: 'file:/from/env.db', PORT: '9090', HOST: '127.0.0.1', UNRELATED: 'x' }
  const config = await loadConfig(env, cwd)
  assert.equal(config.values.databaseUrl, 'file:/from/env.db')
  assert.equal(config.values.appLocale, 'fr')
  assert.equal(config.port, 9090)
  assert.equal(config.host, '127.0.0.1')
  assert.equal(config.logLevel, 'debug')
  assert.deepEqual(config.fromEnvironment, ['PORT', 'HOST', 'DATABASE_URL'])
})

test('an empty environment variable counts as unset and does not mask the file', async (t) => {
  const cwd = await tempDir(t)
  await fsp.writeFile(join(cwd, '.env'), 'DATABASE_URL=file:/from/file.db\nAPP_INSTALLED_AT=2025-01-01T00:00:00.000Z\n')
  const config = await loadConfig({ DATABASE_URL: '', APP_INSTALLED_AT: '', PORT: '' }, cwd)
  assert.equal(config.values.databaseUrl, 'file:/from/file.db')
  assert.equal(config.installed, true)
  assert.equal(config.port, 3000)
  assert.deepEqual(config.fromEnvironment, [])
})

test('does not mutate the environment it is given', async (t) => {
  const cwd = await tempDir(t)
  await fsp.writeFile(join(cwd, '.env'), 'SESSION_SECRET=abc\nPORT=1234\n')
  const env = { HOST: '::' }
  const before = { ...env }
  const processBefore = { ...process.env }
  await loadConfig(env, cwd)
  assert.deepEqual(env, before)
  assert.deepEqual({ ...process.env }, processBefore)
})

for (const port of ['abc', '70000', '65536', '-1', '3.5', '1e3', '80 80']) {
  test(`invalid PORT ${JSON.stringify(port)} is a ConfigError`, async (t) => {
    const cwd = await tempDir(t)
    await assert.rejects(loadConfig({ PORT: port }, cwd), isConfigError('invalidPort', 'PORT'))
  })
}

test('PORT accepts 0 (any free port) and 65535, also from the file', async (t) => {
  const cwd = await tempDir(t)
  assert.equal((await loadConfig({ PORT: '0' }, cwd)).port, 0)
  assert.equal((await loadConfig({ PORT: ' 65535 ' }, cwd)).port, 65535)
  await fsp.writeFile(join(cwd, '.env'), 'PORT=nope\n')
  await assert.rejects(loadConfig({}, cwd), isConfigError('invalidPort', 'PORT'))
})

test('relative ENV_FILE and DATA_DIR resolve against cwd', async (t) => {
  const cwd = await tempDir(t)
  await fsp.mkdir(join(cwd, 'conf'))
  await fsp.writeFile(join(cwd, 'conf', 'app.env'), 'DATA_DIR=store/data\nAPP_LOCALE=en\n')
  const config = await loadConfig({ ENV_FILE: 'conf/app.env' }, cwd)
  assert.equal(config.envFile, join(cwd, 'conf', 'app.env'))
  assert.equal(config.dataDir, join(cwd, 'store', 'data'))
  assert.equal(config.values.appLocale, 'en')
  assert.equal((await loadConfig({ DATA_DIR: '/abs/dir', ENV_FILE: '/abs/x.env' }, cwd)).dataDir, '/abs/dir')
})

test('installed follows APP_INSTALLED_AT, from the file or the environment', async (t) => {
  const cwd = await tempDir(t)
  assert.equal((await loadConfig({}, cwd)).installed, false)
  assert.equal((await loadConfig({ APP_INSTALLED_AT: '2025-02-03T04:05:06.000Z' }, cwd)).installed, true)
  await fsp.writeFile(join(cwd, '.env'), 'APP_INSTALLED_AT=2025-01-01T00:00:00.000Z\n')
  const config = await loadConfig({}, cwd)
  assert.equal(config.installed, true)
  assert.equal(config.values.installedAt, '2025-01-01T00:00:00.000Z')
})

test('BASE_PATH, TRUST_PROXY, LOG_LEVEL and SETUP_TOKEN_TTL_HOURS are parsed and validated', async (t) => {
  const cwd = await tempDir(t)
  const config = await loadConfig({ BASE_PATH: '/apps/amorce/', TRUST_PROXY: 'Yes', LOG_LEVEL: 'warn', SETUP_TOKEN_TTL_HOURS: '0.5' }, cwd)
  assert.equal(config.basePath, '/apps/amorce')
  assert.equal(config.trustProxy, 1, 'true: the one proxy in front')
  assert.equal(config.logLevel, 'warn')
  assert.equal(config.setupTokenTtlHours, 0.5)
  assert.equal((await loadConfig({ BASE_PATH: '/' }, cwd)).basePath, '')
  assert.equal((await loadConfig({ TRUST_PROXY: '0' }, cwd)).trustProxy, 0)
  assert.equal((await loadConfig({ TRUST_PROXY: '2' }, cwd)).trustProxy, 2, 'a chain of two proxies')
  await assert.rejects(loadConfig({ BASE_PATH: 'amorce' }, cwd), isConfigError('invalidBasePath', 'BASE_PATH'))
  await assert.rejects(loadConfig({ BASE_PATH: '/a b' }, cwd), isConfigError('invalidBasePath', 'BASE_PATH'))
  await assert.rejects(loadConfig({ BASE_PATH: '/a//b' }, cwd), isConfigError('invalidBasePath', 'BASE_PATH'))
  await assert.rejects(loadConfig({ TRUST_PROXY: 'ture' }, cwd), isConfigError('invalidBoolean', 'TRUST_PROXY'))
  await assert.rejects(loadConfig({ LOG_LEVEL: 'verbose' }, cwd), isConfigError('invalidChoice', 'LOG_LEVEL'))
  await assert.rejects(loadConfig({ SETUP_TOKEN_TTL_HOURS: '0' }, cwd), isConfigError('invalidTokenTtl', 'SETUP_TOKEN_TTL_HOURS'))
  await assert.rejects(loadConfig({ SETUP_TOKEN_TTL_HOURS: '86400' }, cwd), isConfigError('invalidTokenTtl', 'SETUP_TOKEN_TTL_HOURS'))
})

test('invalid enumerated values are ConfigErrors naming the key', async (t) => {
  const cwd = await tempDir(t)
  await assert.rejects(loadConfig({ DATABASE_PROVIDER: 'oracle' }, cwd), isConfigError('invalidChoice', 'DATABASE_PROVIDER'))
  await assert.rejects(loadConfig({ CACHE_BACKEND: 'memcached' }, cwd), isConfigError('invalidChoice', 'CACHE_BACKEND'))
  await assert.rejects(loadConfig({ APP_LOCALE: 'de' }, cwd), isConfigError('invalidChoice', 'APP_LOCALE'))
})

test('an unreadable .env file is a ConfigError', async (t) => {
  const cwd = await tempDir(t)
  await fsp.mkdir(join(cwd, '.env'))
  await assert.rejects(loadConfig({}, cwd), isConfigError('envFileUnreadable', 'ENV_FILE'))
})

test('envFileEntries: fixed order, APP_INSTALLED_AT last, unmanaged keys preserved first', () => {
  const entries = envFileEntries(
    { installedAt: '2025-01-01T00:00:00.000Z', appLocale: 'fr', databaseProvider: 'sqlite', databaseUrl: 'file:/d/app.db', cacheBackend: 'memory', sessionSecret: 'x' },
    { PORT: '8080', DATABASE_URL: 'file:/old.db', CUSTOM: 'kept' },
  )
  assert.deepEqual(Object.keys(entries), ['PORT', 'CUSTOM', 'DATABASE_PROVIDER', 'DATABASE_URL', 'CACHE_BACKEND', 'SESSION_SECRET', 'APP_LOCALE', 'APP_INSTALLED_AT'])
  assert.equal(entries.DATABASE_URL, 'file:/d/app.db')
  assert.deepEqual(Object.keys(entries).filter((key) => (ENV_KEYS as readonly string[]).includes(key)), ENV_KEYS.filter((key) => key in entries))
})

test('what the wizard writes is what loadConfig reads', async (t) => {
  const cwd = await tempDir(t)
  const values = {
    databaseProvider: 'mysql' as const,
    // As server/db/url.ts builds it: every reserved character of the credentials percent-encoded.
    databaseUrl: 'mysql://user:p%23ss%20w%22rd%24%5C%27@db:3306/app',
    cacheBackend: 'filesystem' as const,
    cacheDir: '/var/cache/amorce data',
    sessionSecret: "a'b\"c`d=e;f",
    appLocale: 'en' as const,
    installedAt: '2025-01-01T00:00:00.000Z',
  }
  await writeEnvFile(join(cwd, '.env'), envFileEntries(values, { PORT: '4000' }))
  const config = await loadConfig({}, cwd)
  assert.deepEqual(config.values, values)
  assert.equal(config.port, 4000)
  assert.equal(config.installed, true)
  assert.deepEqual(Object.keys((await readEnvFile(join(cwd, '.env'))) ?? {}).at(-1), 'APP_INSTALLED_AT')
})

test('a value no .env reader agrees on is refused before the file is written', async (t) => {
  const cwd = await tempDir(t)
  for (const cacheDir of [' /var/cache/amorce ', '/srv/$HOME/cache', 'C:\\cache', '/a#b']) {
    await assert.rejects(writeEnvFile(join(cwd, '.env'), envFileEntries({ cacheDir, installedAt: '2025-01-01T00:00:00.000Z' })), /value of CACHE_DIR cannot be written/)
    assert.equal(await readEnvFile(join(cwd, '.env')), null)
  }
})

test('under Passenger, BASE_PATH defaults to PASSENGER_BASE_URI; BASE_PATH still wins', async (t) => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'amorce-passenger-'))
  t.after(() => fsp.rm(dir, { recursive: true, force: true }))
  assert.equal((await loadConfig({ PASSENGER_BASE_URI: '/filamenta' }, dir)).basePath, '/filamenta')
  assert.equal((await loadConfig({ PASSENGER_BASE_URI: '/' }, dir)).basePath, '')
  assert.equal((await loadConfig({ PASSENGER_BASE_URI: '/filamenta', BASE_PATH: '/other' }, dir)).basePath, '/other')
})
