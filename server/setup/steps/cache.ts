// Step 4: the cache backing sessions, rate limits and settings: Redis, a directory or memory.
// On first entry Redis is probed and the best backend preselected, with the reason shown;
// "Test" checks the chosen one for real. Several instances accept only Redis.
import { mkdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { CACHE_KEY_PREFIX, DEFAULT_REDIS_URL, parseRedisUrl, probeRedis, redactRedisUrl, redisUrl, type RedisProbeResult, type RedisTarget } from '../../cache/redis-probe.ts'
import { CONTROL_CHARACTERS, envStorable } from '../paths.ts'
import { fsCause } from '../../i18n.ts'
import { defineStep, type ActionOutcome, type Errors, type Input, type StepContext, type StepView } from '../step.ts'
import { urlPassword } from './database.ts'
import { preloadClient } from '../../db/client.ts'
import { CACHE_BACKENDS, type CacheBackend } from '../../cache/backends.ts'
import { preparePasswordCheck } from '../../auth/password.ts'
import { leavingNoNewDirs } from '../dry-run.ts'

export const BACKENDS = CACHE_BACKENDS
type Backend = typeof BACKENDS[number]
const MIN_CACHE_FREE = 50 * 1024 * 1024
/** Detection runs while the page loads: kept short, a refused connection answers at once anyway. */
const DETECT_TIMEOUT_MS = 1000

/** redisUrl never holds the password: it is kept apart (a secret field, never shown) */
export interface CacheAnswer { backend: CacheBackend, dir?: string, redisUrl?: string, redisPassword?: string }

function defaultDir (ctx: StepContext): string {
  return path.join(ctx.config.dataDir, 'cache')
}

/** The database step records whether several instances will run; read defensively until it does. */
function multipleInstances (ctx: StepContext): boolean {
  return (ctx.data.answers.database as { multipleInstances?: boolean } | undefined)?.multipleInstances === true
}

/** Where detection looks: REDIS_URL (environment or .env), else the local default. */
function detectionUrl (ctx: StepContext): string {
  return ctx.config.values.redisUrl ?? DEFAULT_REDIS_URL
}

/** The full URL (password included) for the .env; undefined unless the answer is Redis. */
export function cacheRedisUrl (cache: CacheAnswer | undefined): string | undefined {
  if (cache?.backend !== 'redis' || !cache.redisUrl) return undefined
  return redisUrl({ ...parseRedisUrl(cache.redisUrl), password: cache.redisPassword })
}

/** The Redis address as shown in pages and the summary: never the password. */
export function shownRedisUrl (cache: CacheAnswer | undefined): string {
  if (!cache?.redisUrl) return ''
  return redactRedisUrl({ ...parseRedisUrl(cache.redisUrl), password: cache.redisPassword })
}

/**
 * mkdir -p, one level at a time: Node's `recursive: true` loops forever under some pseudo file
 * systems (/proc), which would hang the page.
 */
async function makeDirs (dir: string): Promise<void> {
  const missing: string[] = []
  let at = dir
  for (;;) {
    try {
      if (!(await stat(at)).isDirectory()) throw Object.assign(new Error(`${at} is not a directory`), { code: 'ENOTDIR' })
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      missing.unshift(at)
      const parent = path.dirname(at)
      if (parent === at) break
      at = parent
    }
  }
  for (const d of missing) {
    try {
      await mkdir(d, { mode: 0o700 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
}

/** Creates, writes, renames, reads back and deletes a file in the directory, then checks free space. */
export async function testCacheDir (dir: string): Promise<{ ok: true, free: number } | { ok: false, reason: 'dirNotWritable' | 'diskFull', detail: string }> {
  const a = path.join(dir, `.amorce-probe-${process.pid}-a`)
  const b = path.join(dir, `.amorce-probe-${process.pid}-b`)
  try {
    await makeDirs(dir)
    await writeFile(a, 'probe', { mode: 0o600 })
    await rename(a, b)
    if (await readFile(b, 'utf8') !== 'probe') throw Object.assign(new Error('read back differs'), { code: 'EIO' })
    await rm(b)
  } catch (err) {
    await Promise.allSettled([rm(a, { force: true }), rm(b, { force: true })])
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN'
    return { ok: false, reason: code === 'ENOSPC' ? 'diskFull' : 'dirNotWritable', detail: fsCause(code) }
  }
  const s = await statfs(dir)
  const free = s.bavail * s.bsize
  if (free < MIN_CACHE_FREE) return { ok: false, reason: 'diskFull', detail: String(Math.round(free / 1024 ** 2)) }
  return { ok: true, free }
}

/** The form's Redis fields for a target (never its password). */
function redisFields (t: RedisTarget): Input {
  return {
    redisUrl: redisUrl({ ...t, password: undefined }),
    redisHost: t.host,
    redisPort: String(t.port),
    redisDb: String(t.db),
    redisTls: t.tls ? 'on' : '',
    redisUsername: t.username ?? ''
  }
}

/** Reads the Redis part of the form: a URL, or separate fields. Errors are per field. */
function readRedisTarget (input: Input, stored: CacheAnswer | undefined, detected: string): { target?: RedisTarget, errors?: Errors, urlField: string } {
  const mode = input.redisInput === 'fields' ? 'fields' : 'url'
  const typed = input.redisPassword ?? ''
  let target: RedisTarget
  if (mode === 'url') {
    const raw = (input.redisUrl ?? '').trim()
    if (raw === '') return { errors: { redisUrl: { key: 'setup.cache.errors.redisUrlRequired' } }, urlField: 'redisUrl' }
    try {
      target = parseRedisUrl(raw)
    } catch {
      return { errors: { redisUrl: { key: 'setup.cache.errors.redisUrlInvalid' } }, urlField: 'redisUrl' }
    }
  } else {
    const errors: Errors = {}
    const host = (input.redisHost ?? '').trim()
    if (host === '') errors.redisHost = { key: 'setup.cache.errors.redisHostRequired' }
    else if (host.length > 253 || /[\s/?#@]/.test(host)) errors.redisHost = { key: 'setup.cache.errors.redisHostInvalid' }
    const portText = (input.redisPort ?? '').trim() || '6379'
    const port = Number(portText)
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) errors.redisPort = { key: 'setup.cache.errors.redisPortInvalid' }
    const dbText = (input.redisDb ?? '').trim() || '0'
    if (!/^\d{1,5}$/.test(dbText)) errors.redisDb = { key: 'setup.cache.errors.redisDbInvalid' }
    if (Object.keys(errors).length > 0) return { errors, urlField: 'redisHost' }
    target = { host, port, db: Number(dbText), tls: input.redisTls === 'on' }
    const user = (input.redisUsername ?? '').trim()
    if (user) target.username = user
  }
  // A password typed now wins; one inside the URL comes next; blank keeps the one entered before.
  if (typed !== '') target.password = typed
  else if (target.password === undefined && stored?.redisPassword) target.password = stored.redisPassword
  else if (target.password === undefined) {
    // REDIS_URL given to the server with a password: the form shows it without, so reuse it.
    try {
      const env = parseRedisUrl(detected)
      if (env.password && env.host === target.host && env.port === target.port) target.password = env.password
    } catch { /* not a usable URL: nothing to reuse */ }
  }
  return { target, urlField: mode === 'url' ? 'redisUrl' : 'redisHost' }
}

function withoutPassword (raw: string): string {
  try {
    const t = parseRedisUrl(raw)
    return t.password ? redisUrl({ ...t, password: undefined }) : raw
  } catch {
    // Not a URL we read: drop anything that looks like credentials before echoing it.
    return raw.replace(/\/\/[^@/]*@/, '//')
  }
}

/** Which field a Redis failure belongs to, so the message sits next to what must change. */
function failureField (reason: string, urlField: string): string {
  if (reason === 'authRequired' || reason === 'wrongPassword') return 'redisPassword'
  if (reason === 'dbOutOfRange' && urlField === 'redisHost') return 'redisDb'
  return urlField
}

function redisOutcome (r: RedisProbeResult, urlField: string): ActionOutcome {
  if (!r.ok) {
    const where = r.target ? redactRedisUrl(r.target) : ''
    return { errors: { [failureField(r.reason, urlField)]: { key: `setup.cache.errors.redis.${r.reason}`, params: { url: where, detail: r.detail, db: r.target?.db ?? 0 } } } }
  }
  const warnings = []
  if (r.evictionRisk) warnings.push({ key: r.maxmemory ? 'setup.cache.warnings.eviction' : 'setup.cache.warnings.evictionNoLimit', params: { policy: r.maxmemoryPolicy } })
  if (r.passwordIgnored) warnings.push({ key: 'setup.cache.warnings.passwordIgnored' })
  return {
    view: {
      test: { ok: true, key: 'setup.cache.testResult.redis', params: { version: r.version, url: redactRedisUrl(r.target), latency: r.latencyMs } },
      contents: redisContents(r),
      nonEmpty: r.keys > 0 ? { db: r.target.db } : undefined,
      warnings
    }
  }
}

/** What the chosen database holds, said on the page: empty, only our keys, or someone else's too. */
function redisContents (r: Extract<RedisProbeResult, { ok: true }>): { key: string, params: Record<string, unknown> } {
  const params = { db: r.target.db, count: r.keys, ours: r.ourKeys, prefix: CACHE_KEY_PREFIX }
  if (r.keys === 0) return { key: 'setup.cache.contents.empty', params }
  return { key: r.ourKeys >= r.keys ? 'setup.cache.contents.ours' : 'setup.cache.contents.foreign', params }
}

async function test (input: Input, ctx: StepContext): Promise<ActionOutcome & { answer?: CacheAnswer, keys?: number, db?: number }> {
  const backend = input.backend as Backend
  if (!BACKENDS.includes(backend)) return { errors: { backend: { key: 'setup.cache.errors.backend' } } }
  if (backend !== 'redis' && multipleInstances(ctx)) return { errors: { backend: { key: 'setup.cache.errors.redisRequired' } } }
  if (backend === 'memory') {
    return { answer: { backend }, view: { test: { ok: true, key: 'setup.cache.testResult.memory' }, warnings: [{ key: 'setup.cache.warnings.memory' }] } }
  }
  if (backend === 'filesystem') {
    const raw = (input.dir ?? '').trim()
    if (raw === '') return { errors: { dir: { key: 'setup.cache.errors.dirRequired' } } }
    if (raw.length > 1024 || raw.includes('\0')) return { errors: { dir: { key: 'setup.cache.errors.dirInvalid' } } }
    const dir = path.resolve(raw)
    // Refused before the test, as the .env writer would refuse it at install (CACHE_DIR).
    if (CONTROL_CHARACTERS.test(dir)) return { errors: { dir: { key: 'setup.cache.errors.dirControlCharacters', params: { dir } } } }
    if (!envStorable(dir, 'CACHE_DIR')) return { errors: { dir: { key: 'setup.cache.errors.dirNotStorable', params: { dir } } } }
    // A dry run's test leaves no directory behind it (Install makes the cache directory as the test does).
    const r = ctx.data.dryRun ? await leavingNoNewDirs(dir, () => testCacheDir(dir)) : await testCacheDir(dir)
    if (!r.ok) return { errors: { dir: { key: `setup.cache.errors.${r.reason}`, params: { dir, detail: r.detail } } } }
    return { answer: { backend, dir }, view: { test: { ok: true, key: 'setup.cache.testResult.filesystem', params: { dir, free: Math.round(r.free / 1024 ** 3 * 10) / 10 } } } }
  }
  const read = readRedisTarget(input, ctx.data.answers.cache, detectionUrl(ctx))
  if (!read.target) return { errors: read.errors }
  // Remembered for Next: the password field comes back empty (and the URL without it), and blank means "keep it".
  const password = read.target.password
  if (password && password !== ctx.data.answers.cache?.redisPassword) ctx.data.answers.cache = { ...(ctx.data.answers.cache ?? { backend: 'redis' }), redisPassword: password }
  const r = await probeRedis(read.target)
  // The URL and the separate fields show the same connection afterwards, whichever was typed.
  const outcome = redisOutcome(r, read.urlField)
  outcome.view = { ...outcome.view, redisFields: redisFields(read.target) }
  if (!r.ok) return outcome
  // A password the server does not use is dropped rather than written to the .env.
  return { ...outcome, keys: r.keys, db: r.target.db, answer: { backend: 'redis', redisUrl: redisUrl({ ...read.target, password: undefined }), redisPassword: r.passwordIgnored ? undefined : password } }
}

const text = (maxLength: number) => ({ type: 'string', maxLength })

export const cacheStep = defineStep({
  id: 'cache',
  fields: {
    backend: { schema: text(32) },
    dir: { schema: text(4096) },
    redisInput: { schema: text(16) },
    redisUrl: { schema: text(4096) },
    redisHost: { schema: text(4096) },
    redisPort: { schema: text(64) },
    redisDb: { schema: text(64) },
    redisTls: { schema: text(16) },
    redisUsername: { schema: text(4096) },
    redisPassword: { schema: text(4096), secret: true },
    confirmNonEmpty: { schema: text(16) }
  },
  // A password typed inside the URL is kept apart (test()), never in a draft nor in the page.
  redact: (name, value) => name === 'redisUrl' ? withoutPassword(value) : value,
  values: ctx => {
    const c = ctx.data.answers.cache
    const accepted = ctx.data.done.includes('cache') && c ? c : undefined
    let target: RedisTarget
    try { target = parseRedisUrl(accepted?.redisUrl ?? detectionUrl(ctx)) } catch { target = parseRedisUrl(DEFAULT_REDIS_URL) }
    return {
      // Empty until answered: the page then detects Redis and preselects (see view).
      backend: accepted?.backend ?? '',
      dir: accepted?.dir ?? defaultDir(ctx),
      redisInput: 'url',
      ...redisFields(target)
    }
  },
  async view (ctx, values) {
    // The install will need the chosen engine's client and the admin step the password checker (a
    // worker): both load while this step and the next ones are answered, not when the install waits.
    if (ctx.data.answers.database) preloadClient(ctx.definition.schema, ctx.data.answers.database.provider).catch(() => {})
    preparePasswordCheck()
    const view: StepView = {
      backends: BACKENDS,
      multipleInstances: multipleInstances(ctx),
      hasPassword: Boolean(ctx.data.answers.cache?.redisPassword),
      // What was typed in the URL field, shown again without a password it may hold.
      redisUrlShown: withoutPassword(values.redisUrl ?? '')
    }
    if (!values.backend) {
      const url = detectionUrl(ctx)
      const r = await probeRedis(url, DETECT_TIMEOUT_MS)
      const backend: Backend = r.ok || multipleInstances(ctx) ? 'redis' : 'filesystem'
      view.preselected = backend
      view.detection = r.ok
        ? { key: r.keys > 0 ? 'setup.cache.detection.foundNonEmpty' : 'setup.cache.detection.found', params: { version: r.version, url: redactRedisUrl(r.target), db: r.target.db, count: r.keys } }
        : { key: multipleInstances(ctx) ? 'setup.cache.detection.notFoundMulti' : 'setup.cache.detection.notFound', params: { url: r.target ? redactRedisUrl(r.target) : url, cause: ctx.t(`setup.cache.causes.${r.reason}`) } }
    }
    return view
  },
  actions: { test },
  async submit (input, ctx) {
    const r = await test(input, ctx)
    if (r.errors || !r.answer) return r
    // A Redis database that already holds keys is used only when the person (or the headless answer) says so.
    if ((r.keys ?? 0) > 0 && input.confirmNonEmpty !== 'yes') {
      return { errors: { confirmNonEmpty: { key: 'setup.cache.errors.confirmNonEmpty', params: { db: r.db, count: r.keys } } }, view: r.view }
    }
    ctx.data.answers.cache = r.answer
    return {}
  },
  summary (ctx) {
    const c = ctx.data.answers.cache
    return [{ key: 'setup.finalize.summary.cache', value: c ? ctx.t(`setup.cache.backends.${c.backend}`) + (c.dir ? ` — ${c.dir}` : '') + (c.backend === 'redis' ? ` — ${shownRedisUrl(c)}` : '') : '' }]
  },
  preset: {
    env: ['CACHE_BACKEND', 'CACHE_DIR', 'REDIS_URL', 'CACHE_REDIS_ALLOW_NONEMPTY'],
    input (env, config): Input | undefined {
      const v = config.values
      if (!config.fromEnvironment.includes('CACHE_BACKEND') || !v.cacheBackend) return undefined
      if (v.cacheBackend === 'memory') return { backend: 'memory' }
      if (v.cacheBackend === 'filesystem' && v.cacheDir) return { backend: 'filesystem', dir: v.cacheDir }
      // A Redis database that already holds keys is refused unless CACHE_REDIS_ALLOW_NONEMPTY=true says it may be used.
      if (v.cacheBackend === 'redis' && v.redisUrl) {
        return { backend: 'redis', redisInput: 'url', redisUrl: v.redisUrl, confirmNonEmpty: env.CACHE_REDIS_ALLOW_NONEMPTY === 'true' ? 'yes' : '' }
      }
      return undefined
    }
  },
  resume (data, env) {
    // The journal keeps no Redis password: it comes back from the `.env` the install wrote.
    const answer = data.answers.cache
    if (!answer) return true
    const password = env?.REDIS_URL ? urlPassword(env.REDIS_URL) : ''
    if (!password) return false
    answer.redisPassword = password
    return true
  },
  answers: {
    "description": "The cache backing sessions, login rate limits and settings.",
    "type": "object",
    "additionalProperties": false,
    "required": [
      "backend"
    ],
    "properties": {
      "backend": {
        "enum": [
          "redis",
          "filesystem",
          "memory"
        ]
      },
      "dir": {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "description": "With backend filesystem: the cache directory, absolute or relative to the server's working directory."
      },
      "url": {
        "type": "string",
        "pattern": "^rediss?://",
        "maxLength": 1024,
        "description": "With backend redis: redis://[user[:password]@]host:port/db, or rediss:// for TLS. Write the password as \"${REDIS_PASSWORD}\" in the separate password property rather than here."
      },
      "password": {
        "type": "string",
        "minLength": 1,
        "maxLength": 512,
        "description": "With backend redis: the Redis password; use \"${REDIS_PASSWORD}\" to read it from the environment."
      },
      "allowNonEmpty": {
        "type": "boolean",
        "description": "With backend redis: true to use the Redis database even if it already holds keys (another application's, or an earlier install's). Without it, a non-empty database stops the replay with the page's message."
      }
    },
    "allOf": [
      {
        "if": {
          "properties": {
            "backend": {
              "const": "filesystem"
            }
          }
        },
        "then": {
          "required": [
            "dir"
          ]
        }
      },
      {
        "if": {
          "properties": {
            "backend": {
              "const": "redis"
            }
          }
        },
        "then": {
          "required": [
            "url"
          ]
        }
      }
    ]
  },
  answersRequired: true,
  fromAnswers: (cache): Input => cache.backend === 'redis'
    ? { backend: 'redis', redisInput: 'url', redisUrl: cache.url, redisPassword: cache.password ?? '', confirmNonEmpty: cache.allowNonEmpty ? 'yes' : '' }
    : cache.backend === 'filesystem' ? { backend: 'filesystem', dir: cache.dir } : { backend: cache.backend },
  toAnswers (ctx, variable, place) {
    const cache = ctx.data.answers.cache
    if (!cache) return undefined
    if (cache.backend === 'filesystem' && cache.dir) return { backend: 'filesystem', dir: place(cache.dir) }
    if (cache.backend === 'redis' && cache.redisUrl) return { backend: 'redis', url: cache.redisUrl, ...(cache.redisPassword && { password: variable('REDIS_PASSWORD') }) }
    return { backend: cache.backend }
  },
  async replay ({ page: p, answer, t, next, expectNext }) {
    await p.getByRole('radio', { name: t(`setup.cache.backends.${answer.backend}`) }).check()
    if (answer.backend === 'filesystem') await p.getByLabel(t('setup.cache.dir'), { exact: true }).fill(answer.dir)
    if (answer.backend === 'redis') {
      await p.getByRole('radio', { name: t('setup.cache.redis.inputs.url') }).check()
      await p.getByLabel(t('setup.cache.redis.url'), { exact: true }).fill(answer.url)
      if (answer.password) await p.getByLabel(t('setup.cache.redis.password'), { exact: true }).fill(answer.password)
    }
    await next()
    await p.waitForLoadState('domcontentloaded')
    // A Redis database that already holds keys: used only when the answers say so (cache.allowNonEmpty).
    const nonEmpty = p.getByRole('checkbox', { name: t('setup.cache.confirmNonEmpty') })
    if (answer.backend === 'redis' && answer.allowNonEmpty && new URL(p.url()).pathname.endsWith('/setup/cache') && await nonEmpty.count() > 0) {
      await nonEmpty.check()
      await next()
    }
    await expectNext()
  }
})
