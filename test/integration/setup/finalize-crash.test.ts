// The real server killed (SIGKILL) at every stage boundary of the install and inside the
// migration run, then restarted: no half-written .env, migrations applied once, at most one
// administrator, the lock only at the end; the wizard shows where it stopped and resumes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import dotenv from 'dotenv'
import { createClient } from '@libsql/client'
import { startServer, type RunningServer } from '../../helpers/server.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { csrfOf, STRONG_PASSWORD, wizardAnswers } from '../../helpers/app.ts'
import { JOURNAL_FILE } from '../../../server/setup/finalize.ts'

/** A fetch-based browser: cookies, CSRF token of the last page, no redirect following. */
class HttpClient {
  private cookies = new Map<string, string>()
  private csrf?: string
  constructor (readonly base: string) {}

  async request (method: string, url: string, form?: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
    let body: string | undefined
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams({ _csrf: this.csrf ?? '', ...form }).toString()
    }
    const res = await fetch(this.base + url, { method, headers, body, redirect: 'manual', signal })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const i = pair.indexOf('=')
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1))
    }
    return res
  }

  /** GET and read the page, remembering its CSRF token. */
  async page (url: string): Promise<{ status: number, location: string | null, body: string }> {
    const res = await this.request('GET', url)
    const body = await res.text()
    this.csrf = csrfOf(body) ?? this.csrf
    return { status: res.status, location: res.headers.get('location'), body }
  }

  async post (url: string, form: Record<string, string>): Promise<{ status: number, location: string | null, body: string }> {
    const res = await this.request('POST', url, form)
    const body = await res.text()
    this.csrf = csrfOf(body) ?? this.csrf
    return { status: res.status, location: res.headers.get('location'), body }
  }
}

async function enter (server: RunningServer, dataDir: string): Promise<HttpClient> {
  const client = new HttpClient(server.url)
  await client.page('/setup/token')
  const token = (await readFile(path.join(dataDir, 'setup-token'), 'utf8')).trim()
  const res = await client.post('/setup/token', { token })
  assert.equal(res.status, 303, 'token accepted')
  return client
}

async function walk (client: HttpClient, dir: string): Promise<void> {
  for (const [step, form] of wizardAnswers(dir)) {
    await client.page(`/setup/${step}`)
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.status, 303, `step ${step}: ${res.body.slice(0, 300)}`)
  }
  await client.page('/setup/finalize')
}

async function waitFor (check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function dbFacts (file: string): Promise<{ migrations: number, admins: number }> {
  const db = createClient({ url: `file:${file}` })
  try {
    const tables = (await db.execute("SELECT name FROM sqlite_master WHERE type='table'")).rows.map(r => String(r.name))
    const migrations = tables.includes('_prisma_migrations') ? Number((await db.execute('SELECT count(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL')).rows[0].n) : 0
    const admins = tables.includes('AdminUser') ? Number((await db.execute('SELECT count(*) AS n FROM AdminUser')).rows[0].n) : 0
    return { migrations, admins }
  } finally {
    db.close()
  }
}

/** What must hold after any crash: the .env whole or absent, no lock unless everything was done. */
async function checkCrashInvariants (dir: string, point: string): Promise<Record<string, string> | null> {
  const files = await readdir(dir)
  const envText = files.includes('.env') ? await readFile(path.join(dir, '.env'), 'utf8') : null
  const facts = await dbFacts(path.join(dir, 'data', 'app.db'))
  assert.ok(facts.migrations <= 1, `${point}: migrations applied once at most`)
  assert.ok(facts.admins <= 1, `${point}: at most one admin`)
  if (envText === null) return null
  assert.ok(envText.endsWith('\n'), `${point}: the .env is complete`)
  const env = dotenv.parse(envText)
  for (const key of ['DATABASE_PROVIDER', 'DATABASE_URL', 'CACHE_BACKEND', 'SESSION_SECRET', 'APP_LOCALE']) assert.ok(env[key], `${point}: .env has ${key}`)
  if (env.APP_INSTALLED_AT) {
    assert.equal(facts.migrations, 1, `${point}: locked only after the migrations`)
    assert.equal(facts.admins, 1, `${point}: locked only after the administrator`)
  }
  return env
}

// Boundaries: before each stage (after the previous one is journaled); inside the migration run:
// as the first migration is about to be applied, and after it committed but before the stage is
// journaled. (A kill inside a migration's own transaction: finalize-migrate-kill.test.ts.)
const KILL_POINTS = ['env', 'migrate', 'migrate:applying', 'migrate:applied', 'restore', 'admin', 'lock', 'switch']

// Sixteen server starts: the bounds stop a hang, each point on its own, and leave room for a loaded machine.
test('SIGKILL at every stage boundary and inside migrations, then restart: the install resumes and holds', { timeout: KILL_POINTS.length * 180_000 }, async t => {
  for (const point of KILL_POINTS) {
    await t.test(point, { timeout: 180_000 }, async t => {
      const dir = await tempDir(t)
      const dataDir = path.join(dir, 'data')
      const env = { DATA_DIR: dataDir, ENV_FILE: path.join(dir, '.env') }
      const first = await startServer(t, { ...env, AMORCE_TEST_PAUSE_AT: point }, dir)
      const client = await enter(first, dataDir)
      await walk(client, dir)
      const aborter = new AbortController()
      const install = client.request('POST', '/setup/finalize', { _action: 'install' }, aborter.signal).then(r => r.text()).catch(() => '')
      await waitFor(() => first.output().includes(`AMORCE_TEST_PAUSED ${point}`), `the pause at ${point}`)
      await first.stop('SIGKILL')
      aborter.abort()
      await install

      const written = await checkCrashInvariants(dir, point)
      const lockWritten = Boolean(written?.APP_INSTALLED_AT)
      assert.equal(lockWritten, point === 'switch', `${point}: the lock is written by the lock stage only`)

      // Inside the run: killed as the first migration is about to run, nothing is committed; killed after its
      // commit, the migration is applied although the stage is not journaled (resume must not redo it).
      const atKill = await dbFacts(path.join(dataDir, 'app.db'))
      if (point === 'migrate:applying') assert.equal(atKill.migrations, 0)
      if (point === 'migrate:applied') assert.equal(atKill.migrations, 1)

      // The journal left by the crash: private, enough to resume, no password.
      const journalText = await readFile(path.join(dataDir, JOURNAL_FILE), 'utf8')
      assert.equal((await stat(path.join(dataDir, JOURNAL_FILE))).mode & 0o777, 0o600)
      assert.match(journalText, /\$argon2id\$/)
      assert.ok(!journalText.includes(STRONG_PASSWORD))
      if (written) assert.ok(!journalText.includes(written.SESSION_SECRET))

      const second = await startServer(t, env, dir)
      if (lockWritten) {
        // Killed after the lock: the restart is the installed application, and stale files are cleared.
        assert.match(second.output(), /running at/)
        assert.equal((await fetch(`${second.url}/setup`, { redirect: 'manual' })).status, 404)
        assert.ok(!(await readdir(dataDir)).includes(JOURNAL_FILE))
      } else {
        const resumed = await enter(second, dataDir)
        const landing = await resumed.page('/setup')
        assert.equal(landing.location, '/setup/resume', `${point}: the wizard opens on where it stopped`)
        const page = await resumed.page('/setup/resume')
        assert.equal(page.status, 200)
        assert.match(page.body, /The install was interrupted/)
        const doneBefore = [...page.body.matchAll(/data-stage="(\w+)" data-status="done"/g)].map(m => m[1])
        const expectedDone = { env: [], migrate: ['env'], 'migrate:applying': ['env'], 'migrate:applied': ['env'], restore: ['env', 'migrate'], admin: ['env', 'migrate', 'restore'], lock: ['env', 'migrate', 'restore', 'admin'] }[point]
        assert.deepEqual(doneBefore, expectedDone, `${point}: the page shows the stages done`)
        if (point === 'admin') {
          // "Back to the summary" refills the wizard from the journal; installing from there works too.
          const back = await resumed.post('/setup/resume', { _action: 'summary' })
          assert.equal(back.location, '/setup/finalize')
          const summary = await resumed.page('/setup/finalize')
          assert.match(summary.body, /admin &lt;admin@example\.com&gt;/)
          const run = await resumed.post('/setup/finalize', { _action: 'install' })
          assert.match(run.body, /install-done/, run.body.slice(-600))
        } else {
          const run = await resumed.post('/setup/resume', { _action: 'resume' })
          assert.equal(run.status, 200)
          assert.match(run.body, /install-done/, `${point}: ${run.body.slice(-600)}`)
        }
        assert.ok(!(await readdir(dataDir)).includes(JOURNAL_FILE), 'the journal is removed at the end')
      }
      const facts = await dbFacts(path.join(dataDir, 'app.db'))
      assert.deepEqual(facts, { migrations: 1, admins: 1 }, `${point}: one migration run, one admin`)
      const final = dotenv.parse(await readFile(env.ENV_FILE, 'utf8'))
      assert.ok(final.APP_INSTALLED_AT)
      // And the administrator can sign in.
      const user = new HttpClient(second.url)
      await user.page('/login')
      const login = await user.post('/login', { login: 'admin', password: STRONG_PASSWORD })
      assert.equal(login.location, '/dashboard', `${point}: sign in works`)
      await second.stop('SIGTERM')
    })
  }
})
