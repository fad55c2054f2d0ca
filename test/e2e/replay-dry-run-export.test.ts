// From one install by clicking to another server (issue 16's "done when"): a person installs server A in a
// browser with a password-protected Redis and downloads "these answers" from the summary page; the file holds no
// secret in any form (the Redis and admin passwords are ${REDIS_PASSWORD} and ${ADMIN_PASSWORD}); a dry run of it
// against server B writes nothing there (no file, no Redis key); then the replay installs B with the passwords
// from the environment: normal mode with Redis, and B's .env has A's keys and values but for secrets and paths.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import dotenv from 'dotenv'
import { Redis } from 'ioredis'
import { chromiumPath } from '../helpers/services.ts'
import { requireRedisServerBinary, startPrivateRedis } from '../helpers/redis.ts'
import { freshServer, runReplay } from '../helpers/server.ts'
import { tempDir } from '../helpers/tmp.ts'
import { launchChromium } from '../../server/replay/replay.ts'
import { createRegistry } from '../../server/setup/registry.ts'
import { secretForms } from '../../server/setup/export.ts'
import { translator } from '../../server/i18n.ts'
import { MASK } from '../../server/setup/dry-run.ts'
import type { ReplayContext } from '../../server/setup/step.ts'

const ADMIN_PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'
const REDIS_PASSWORD = 'Redis-P@ss:w0rd/7+é'

async function snapshot (dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (at: string) => {
    for (const e of (await readdir(at, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(at, e.name)
      if (e.isDirectory()) { out.push(`${path.relative(dir, p)}/`); await walk(p) } else out.push(`${path.relative(dir, p)} ${(await stat(p)).size} ${createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 16)}`)
    }
  }
  await walk(dir)
  return out
}

test('install by clicking with a password-protected Redis, download the answers, dry-run them on a second server (nothing written), then replay them there: the same .env but for secrets and paths', { timeout: 600_000 }, async t => {
  const browserPath = chromiumPath(t)
  if (!browserPath || !await requireRedisServerBinary(t)) return
  const redis = await startPrivateRedis(t, ['--requirepass', REDIS_PASSWORD])
  const redisUrl = `${redis.url}/2`
  const watch = new Redis(redisUrl, { password: REDIS_PASSWORD })
  t.after(() => watch.disconnect())

  // Server A, installed by a person in a browser (each page filled as the replay's steps fill it), who downloads the answers before Install.
  const a = await freshServer(t, browserPath)
  const browser = await launchChromium(browserPath)
  t.after(() => browser.close())
  const context = await browser.newContext({ locale: 'en-US', acceptDownloads: true })
  const page = await context.newPage()
  const tr = translator('en')
  const typed = {
    language: 'en',
    database: { provider: 'sqlite', file: 'data/app.db' },
    cache: { backend: 'redis', url: redisUrl, password: REDIS_PASSWORD },
    restore: null,
    admin: { username: 'chef', email: 'chef@example.org', password: ADMIN_PASSWORD }
  } as Record<string, unknown>
  await page.goto(`${a.server.url}/setup/token`)
  await page.getByLabel('Setup token', { exact: true }).fill((await readFile(path.join(a.env.DATA_DIR!, 'setup-token'), 'utf8')).trim())
  await page.getByRole('button', { name: 'Continue', exact: true }).click()
  await page.waitForURL(/\/setup\/language$/)
  const steps = createRegistry().steps
  const ctx = (id: string, following: string | undefined): ReplayContext => ({
    page,
    answer: typed[id],
    answers: typed,
    t: tr,
    next: () => page.getByRole('button', { name: 'Next', exact: true }).click(),
    expectNext: () => page.waitForURL(u => u.pathname.endsWith(following ? `/setup/${following}` : '/login')),
    pageError: async () => undefined,
    fail: message => { throw new Error(message) },
    progress: () => {}
  })
  for (const [i, s] of steps.entries()) {
    if (s.final) break
    await s.replay!(ctx(s.id, steps[i + 1]?.id))
  }
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download these answers', exact: true }).click()])
  assert.equal(download.suggestedFilename(), 'answers.json')
  const exported = await readFile((await download.path())!, 'utf8')
  for (const secret of [REDIS_PASSWORD, ADMIN_PASSWORD]) {
    for (const form of secretForms(secret)) assert.ok(!exported.includes(form), `a form of a secret in the exported file: ${form.slice(0, 3)}…`)
  }
  assert.deepEqual(JSON.parse(exported), {
    version: 1,
    language: 'en',
    database: { provider: 'sqlite', file: 'data/app.db' },
    cache: { backend: 'redis', url: redisUrl, password: '${REDIS_PASSWORD}' },
    restore: null,
    admin: { username: 'chef', email: 'chef@example.org', password: '${ADMIN_PASSWORD}' }
  })
  await steps.at(-1)!.replay!(ctx('finalize', undefined))
  const first = dotenv.parse(await readFile(a.env.ENV_FILE!, 'utf8'))
  assert.equal(first.CACHE_BACKEND, 'redis')
  // A second server has a Redis of its own: this one is emptied of A's keys once A has stopped.
  assert.equal(await a.server.stop('SIGTERM'), 0)
  await watch.flushdb()

  // Server B: the downloaded file, dry-run, then replayed, with the passwords from the environment.
  const b = await freshServer(t, browserPath)
  const here = await tempDir(t)
  await writeFile(path.join(here, 'answers.json'), exported)
  const env = { CHROMIUM_PATH: browserPath, ADMIN_PASSWORD, REDIS_PASSWORD, AMORCE_LANG: 'en', DATA_DIR: b.env.DATA_DIR }
  const before = await snapshot(b.dir)
  const dry = await runReplay(['answers.json', '--url', b.server.url, '--dry-run'], env, here)
  assert.equal(dry.code, 0, dry.out)
  assert.match(dry.out, /Install would be accepted/)
  assert.match(dry.out, new RegExp(`^\\s+REDIS_URL=redis://(default)?:${MASK}@127\\.0\\.0\\.1:${redis.port}/2$`, 'm'), 'the Redis password masked')
  assert.deepEqual(await snapshot(b.dir), before, 'the dry run wrote nothing on B')
  assert.equal(await watch.dbsize(), 0, 'nor any key in its Redis')

  const run = await runReplay(['answers.json', '--url', b.server.url], env, here)
  assert.equal(run.code, 0, run.out)
  assert.match(run.out, /Installed and signed in as chef/)
  for (const text of [dry.out, run.out, b.server.output()]) {
    for (const secret of [REDIS_PASSWORD, ADMIN_PASSWORD]) assert.ok(!text.includes(secret) && !text.includes(encodeURIComponent(secret)), 'no password printed or logged')
  }
  assert.deepEqual(await (await fetch(`${b.server.url}/health`)).json(), { status: 'ok', db: 'ok', cache: 'ok' })
  assert.equal((await fetch(`${b.server.url}/setup`, { redirect: 'manual' })).status, 404, 'normal mode')
  const second = dotenv.parse(await readFile(b.env.ENV_FILE!, 'utf8'))
  const comparable = (e: Record<string, string>, home: string) => Object.fromEntries(Object.entries(e)
    .filter(([k]) => !['SESSION_SECRET', 'APP_INSTALLED_AT'].includes(k)).map(([k, v]) => [k, v.replaceAll(home, '<dir>')]))
  assert.deepEqual(Object.keys(second).sort(), Object.keys(first).sort())
  assert.deepEqual(comparable(second, b.dir), comparable(first, a.dir))
  assert.ok((await watch.keys('amorce:sess:*')).length >= 1, 'B keeps its sessions in Redis')
})
