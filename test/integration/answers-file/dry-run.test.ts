// The dry run's server side (issue 16), through its routes: a session entered with "Dry run" walks the same steps
// and checks, shows the plan on the summary (the .env as Install would write it, secrets masked; the migrations;
// the admin), refuses to install, and "End dry run" gives the Install action's verdict, deletes the session's
// upload and ends the session; the data directory and the .env location are as before, but for nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { build, Client, STRONG_PASSWORD, text, wizardAnswers } from '../../helpers/app.ts'
import { listLocalMigrations } from '../../../server/db/migrate.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { maskSecrets, MASK } from '../../../server/setup/dry-run.ts'
import { UPLOAD_PREFIX } from '../../../server/backup/uploads.ts'

/** Every file and directory under `dir`: its path, its size and a hash of its content. */
async function tree (dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (at: string) => {
    for (const e of (await readdir(at, { withFileTypes: true }).catch(() => [])).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(at, e.name)
      if (e.isDirectory()) { out.push(`${path.relative(dir, p)}/`); await walk(p) } else {
        const content = await readFile(p)
        out.push(`${path.relative(dir, p)} ${(await stat(p)).size} ${createHash('sha256').update(content).digest('hex').slice(0, 16)}`)
      }
    }
  }
  await walk(dir)
  return out
}

async function dryRunClient (app: Awaited<ReturnType<typeof build>>['app']): Promise<Client> {
  const client = new Client(app)
  const page = await client.get('/setup/token?dry-run=1')
  assert.match(page.body, /name="dryRun" value="yes" id="f-dryRun"[^>]* checked/, '?dry-run=1 ticks the box')
  const res = await client.post('/setup/token', { token: app.amorce.setup!.token, dryRun: 'yes' })
  assert.equal(res.statusCode, 303)
  return client
}

test('maskSecrets: a URL\'s password and every form of a secret are masked', () => {
  assert.deepEqual(maskSecrets('postgresql://u:p%40ss-w0rd@h:5432/db', []), { value: `postgresql://u:${MASK}@h:5432/db`, masked: true })
  assert.deepEqual(maskSecrets('abcdefgh', ['abcdefgh']), { value: MASK, masked: true })
  assert.deepEqual(maskSecrets(`x=${Buffer.from('s3cret!').toString('base64')}`, ['s3cret!']), { value: `x=${MASK}`, masked: true })
  assert.deepEqual(maskSecrets('file:/srv/app.db', ['s3cret!']), { value: 'file:/srv/app.db', masked: false })
})

test('a dry-run session: the notice on every step, the plan on the summary, no install, End gives the verdict and ends the session; nothing written', async t => {
  const { app, dir } = await build(t)
  const before = await tree(dir)
  const client = await dryRunClient(app)
  const language = await client.get('/setup/language')
  assert.match(text(language), /Dry run: nothing will be installed\./)
  assert.match(language.body, /action="\/setup\/dry-run\/end"/)
  for (const [step, form] of wizardAnswers(dir)) {
    const res = await client.post(`/setup/${step}`, { ...form, _action: 'next' })
    assert.equal(res.statusCode, 303, `${step}: ${text(res).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300)}`)
  }
  // The cache directory and the SQLite file were tested, neither was left behind.
  assert.equal(existsSync(path.join(dir, 'data', 'cache')), false, 'no cache directory')
  assert.equal(existsSync(path.join(dir, 'data', 'app.db')), false, 'no SQLite file')

  const summary = text(await client.get('/setup/finalize'))
  assert.match(summary, /What Install would do/)
  assert.match(summary, /Install would create the SQLite file .*app\.db\./)
  const migrations = (await listLocalMigrations('sqlite', { migrationsDir: referenceSchema.migrationsDir('sqlite') })).map(m => m.name)
  for (const name of migrations) assert.ok(summary.includes(`<code>${name}</code>`), `migration ${name} listed`)
  assert.match(summary, /Install would create the account admin &lt;admin@example\.com&gt;\.|Install would create the account admin <admin@example\.com>\./)
  assert.match(summary, /(^|>)DATABASE_PROVIDER=sqlite$/m)
  assert.match(summary, /^CACHE_BACKEND=filesystem$/m)
  assert.match(summary, new RegExp(`^SESSION_SECRET=${MASK}$`, 'm'), 'the session secret is masked')
  assert.ok(!summary.includes(app.amorce.setup!.sessionSecret))
  assert.match(summary, /^APP_INSTALLED_AT=\d{4}-/m)
  assert.match(summary, /<button type="submit" formaction="\/setup\/dry-run\/end"/)
  assert.doesNotMatch(summary, /value="install"/, 'no Install button')

  // Install is refused, whatever posts it.
  const install = await client.post('/setup/finalize', { _action: 'install' })
  assert.equal(install.statusCode, 422)
  assert.match(text(install), /This is a dry run: it installs nothing\./)
  assert.equal(app.amorce.wizard?.job, undefined, 'no install job started')

  // End: the verdict, the plan, the JSON twin; the session is over.
  const end = await client.post('/setup/dry-run/end', {})
  assert.equal(end.statusCode, 200)
  assert.match(text(end), /Install would be accepted: every answer was checked\./)
  const result = JSON.parse(end.body.match(/<script type="application\/json" id="dry-run-result">(.*?)<\/script>/s)![1])
  assert.equal(result.accepted, true)
  assert.deepEqual(result.plan.migrations.pending, migrations)
  assert.equal(result.plan.database.create, true)
  assert.deepEqual(result.plan.admin, { keepRestored: false, username: 'admin', email: 'admin@example.com' })
  assert.ok(!end.body.includes(STRONG_PASSWORD) && !end.body.includes(app.amorce.setup!.sessionSecret), 'no secret in the page')
  const after = await client.get('/setup/language')
  assert.equal(after.statusCode, 303, 'the session is over: the token is asked again')
  assert.equal(after.headers.location, '/setup/token')

  assert.deepEqual(await tree(dir), before, 'the data directory and the .env location are as they were')
  assert.equal(app.amorce.mode, 'setup')
})

test('a dry run ended before the summary: refused with the step to complete, and the session\'s upload is deleted', async t => {
  const { app, dir } = await build(t)
  const client = await dryRunClient(app)
  for (const [step, form] of wizardAnswers(dir).slice(0, 4)) assert.equal((await client.post(`/setup/${step}`, { ...form, _action: 'next' })).statusCode, 303, step)
  // An upload the session holds (what the upload route leaves: a file of ours in DATA_DIR, named in the answers).
  const upload = path.join(dir, 'data', `${UPLOAD_PREFIX}${'ab'.repeat(12)}.tar.gz`)
  await writeFile(upload, 'not really a backup')
  // Put it in this session's answers through the store: the session is the only holder of the file.
  const sid = decodeURIComponent(client.cookieHeader().match(/amorce\.sid=([^;]+)/)![1]).split('.')[0]
  const store = (app.amorce as unknown as { sessionStore: { get(id: string, cb: (e: unknown, s: any) => void): void, set(id: string, s: any, cb: (e: unknown) => void): void } }).sessionStore
  const session = await new Promise<any>((resolve, reject) => store.get(sid, (e, s) => e ? reject(e) : resolve(s)))
  session.wizard.answers.restore = { mode: 'upload', file: upload, summary: { totalRows: 0, tables: [], admins: [], sourceProvider: 'sqlite', createdAt: '2026-01-01T00:00:00Z', migration: 'x' }, confirmed: false }
  await new Promise<void>((resolve, reject) => store.set(sid, session, e => e ? reject(e) : resolve()))

  const end = await client.post('/setup/dry-run/end', {})
  assert.equal(end.statusCode, 200)
  assert.match(text(end), /Install would be refused:/)
  assert.match(text(end), /Complete the step “Backup restore” first\./)
  assert.equal(JSON.parse(end.body.match(/id="dry-run-result">(.*?)<\/script>/s)![1]).accepted, false)
  assert.equal(existsSync(upload), false, 'the upload is deleted')
})

test('the one-time link with dry-run=1 opens a dry-run session; without it, a session is a real one (its Install is not refused as a dry run)', async t => {
  const { app } = await build(t)
  const link = new Client(app)
  const res = await link.get(`/setup?token=${encodeURIComponent(app.amorce.setup!.token)}&dry-run=1`)
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/setup', 'the token and the flag leave the address')
  assert.match(text(await link.get('/setup/language')), /Dry run: nothing will be installed\./)
  const plain = new Client(app)
  await plain.post('/setup/token', { token: app.amorce.setup!.token })
  const page = text(await plain.get('/setup/language'))
  assert.doesNotMatch(page, /Dry run: nothing will be installed/)
  assert.equal((await plain.post('/setup/dry-run/end', {})).statusCode, 303, 'a real session has no dry run to end')
})
