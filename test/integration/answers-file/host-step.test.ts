// A host's own steps take part in "Download these answers" and AMORCE_ANSWERS with no code of theirs nor
// here: a step's section is its fields' values, a secret field a ${STEP_FIELD} placeholder; read back, the
// section is the step's form input again, submitted through its own checks and install stage.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { buildApp, referenceDefinition } from '../../../server/app.ts'
import { defaultSteps, defineStep, type ActionOutcome } from '../../../server/setup/registry.ts'
import { runUnattended } from '../../../server/setup/unattended.ts'
import { secretForms } from '../../../server/setup/export.ts'
import { SITE_SETTING, siteStep } from '../../fixtures/host-step/site.ts'
import { authorizedClient, tempDir, text, wizardAnswers } from '../../helpers/app.ts'

const fixture = fileURLToPath(new URL('../../fixtures/host-step/', import.meta.url))
const API_KEY = 'sk-live-Ardoise/Lanterne+77'

// A host step with a secret field and nothing about answers files: no toAnswers, no fromAnswers.
const deployStep = defineStep({
  id: 'deploy',
  fields: { region: { schema: { type: 'string', maxLength: 16 } }, apiKey: { schema: { type: 'string', maxLength: 200 }, secret: true } },
  values: ctx => ({ region: (ctx.data.answers.deploy as { region: string } | undefined)?.region ?? 'eu' }),
  async submit (input, ctx): Promise<ActionOutcome> {
    if (!['eu', 'us'].includes(input.region ?? '')) return { errors: { region: { key: 'setup.site.errors.nameRequired' } } }
    if ((input.apiKey ?? '') !== API_KEY) return { errors: { apiKey: { key: 'setup.site.errors.nameRequired' } } }
    ctx.data.answers.deploy = { region: input.region, apiKey: input.apiKey }
    return {}
  }
})

async function hostApp (t: TestContext, env: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir(t)
  const own = referenceDefinition()
  const definition = { ...own, steps: [...defaultSteps, siteStep, deployStep], views: [path.join(fixture, 'views'), ...own.views], locales: [path.join(fixture, 'locales'), ...own.locales] }
  const fullEnv = { DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env'), LOG_LEVEL: 'silent', ...env }
  const app = await buildApp({ env: fullEnv, cwd: dir, logger: false, definition })
  t.after(() => app.close())
  return { app, dir, env: fullEnv }
}

test('host steps: exported from their fields (a secret as ${DEPLOY_API_KEY}), read back by AMORCE_ANSWERS through their own checks and stage', { timeout: 120_000 }, async t => {
  const { app, dir } = await hostApp(t)
  const client = await authorizedClient(app)
  for (const [step, form] of [...wizardAnswers(dir), ['site', { siteName: 'Mon site', timeZone: 'Europe/Paris' }], ['deploy', { region: 'us', apiKey: API_KEY }]] as const) {
    assert.equal((await client.post(`/setup/${step}`, { ...form, _action: 'next' })).statusCode, 303, step)
  }
  assert.match(text(await client.get('/setup/finalize')), /<li><code>ADMIN_PASSWORD<\/code><\/li><li><code>DEPLOY_API_KEY<\/code><\/li>/)
  const exported = (await client.get('/setup/answers.json')).body
  for (const form of secretForms(API_KEY)) assert.ok(!exported.includes(form), 'the host step\'s secret is never in the file')
  const answers = JSON.parse(exported)
  assert.deepEqual(answers.site, { siteName: 'Mon site', timeZone: 'Europe/Paris' })
  assert.deepEqual(answers.deploy, { region: 'us', apiKey: '${DEPLOY_API_KEY}' })

  // A fresh host server from that file, the secret from the environment.
  const target = await tempDir(t)
  answers.database.file = path.join(target, 'data', 'app.db')
  answers.cache.dir = path.join(target, 'data', 'cache')
  await writeFile(path.join(target, 'answers.json'), JSON.stringify(answers))
  const second = await hostApp(t, { AMORCE_ANSWERS: path.join(target, 'answers.json'), ADMIN_PASSWORD: 'Correct-Horse-Battery-Staple-42', DEPLOY_API_KEY: API_KEY })
  assert.equal(await runUnattended(second.app, second.app.amorce.lifecycle!, second.env), 'installed')
  const db = createClient({ url: `file:${answers.database.file}` })
  t.after(() => db.close())
  const row = (await db.execute({ sql: 'SELECT value FROM Setting WHERE key = ?', args: [SITE_SETTING] })).rows[0]
  assert.deepEqual(JSON.parse(String(row.value)), { name: 'Mon site', timeZone: 'Europe/Paris' }, 'the host step\'s stage ran')

  // Without the variable, the file is refused at the host step's own path.
  const third = await hostApp(t, { AMORCE_ANSWERS: path.join(target, 'answers.json'), ADMIN_PASSWORD: 'Correct-Horse-Battery-Staple-42' })
  assert.equal(await runUnattended(third.app, third.app.amorce.lifecycle!, third.env), 'failed')
  assert.equal(third.app.amorce.mode, 'setup')
})

test('host steps in a dry run: walked through their own checks, their summary lines in the plan, their stage never run, their secret masked nowhere because never shown', { timeout: 120_000 }, async t => {
  const { app, dir } = await hostApp(t)
  const client = new (await import('../../helpers/app.ts')).Client(app)
  assert.equal((await client.post('/setup/token', { token: app.amorce.setup!.token, dryRun: 'yes' })).statusCode, 303)
  for (const [step, form] of [...wizardAnswers(dir), ['site', { siteName: 'Mon site', timeZone: 'Europe/Paris' }], ['deploy', { region: 'us', apiKey: API_KEY }]] as const) {
    assert.equal((await client.post(`/setup/${step}`, { ...form, _action: 'next' })).statusCode, 303, step)
  }
  const end = await client.post('/setup/dry-run/end', {})
  const verdict = JSON.parse(end.body.match(/id="dry-run-result">(.*?)<\/script>/s)![1])
  assert.equal(verdict.accepted, true)
  // The host's own summary line, as its summary() gives it: no code of the step's for the dry run.
  const site = siteStep.summary!({ config: app.amorce.config, data: { answers: { site: { name: 'Mon site', timeZone: 'Europe/Paris' } }, kept: {}, done: [], drafts: {} }, lang: 'en', t: app.amorce.i18n.translator('en'), definition: app.amorce.definition, registry: app.amorce.wizard!.registry, installing: false })
  for (const line of site) assert.ok(verdict.plan.summary.some((l: { value: string }) => l.value === line.value), `the plan has the host step's line ${line.value}`)
  for (const form of secretForms(API_KEY)) assert.ok(!end.body.includes(form), 'the host step\'s secret is not on the page')
  assert.equal(existsSync(path.join(dir, 'data', 'app.db')), false, 'no stage ran: no database')
  assert.equal(app.amorce.mode, 'setup')
})
