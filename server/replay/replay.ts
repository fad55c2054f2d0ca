// Headless replay: drives the real wizard pages in Chromium (playwright-core) from an answers file,
// finding fields by their role and localized label, as a person would.
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { translator } from '../i18n.ts'
import type { Answers } from './answers.ts'
import { loadChromium } from './playwright.ts'

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']

export class ReplayError extends Error {
  constructor (readonly step: string, message: string, readonly screenshot?: string) { super(message) }
}

/** What the page itself says went wrong (every line of it); kept whole, unlike a driver's error with its call log. */
class PageMessage extends Error {}

export interface StepReport { step: string, ms: number }
/** A line the install page streamed inside a stage (a migration applied, rows restored), or a stage's outcome. */
export interface ProgressReport { stage: string, status: string, text: string }

export interface ReplayOptions {
  answers: Answers
  /** the server's base URL, with its base path: http://127.0.0.1:3000 or https://host/app */
  url: string
  token: string
  chromiumPath?: string
  /** a browser already running (a fleet replay shares one): this replay opens its own context in it, and closes only that */
  browser?: Browser
  /** where failure screenshots go */
  screenshotDir?: string
  onStep?: (report: StepReport) => void
  onProgress?: (report: ProgressReport) => void
  /** per action, ms */
  timeoutMs?: number
}

/** CHROMIUM_PATH, else Debian's /usr/bin/chromium, else Playwright's own browser when installed. */
export function findChromium (env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  for (const c of candidates) if (c && existsSync(c)) return c
  try {
    const own = loadChromium().executablePath()
    if (own && existsSync(own)) return own
  } catch { /* no Playwright browser installed, or no playwright-core */ }
  return undefined
}

export async function launchChromium (executablePath: string): Promise<Browser> {
  return loadChromium().launch({ executablePath, headless: true, args: CHROMIUM_ARGS })
}

/** Runs the whole wizard, then signs in; resolves with the time each step took. */
export async function replay (opts: ReplayOptions): Promise<StepReport[]> {
  const { answers } = opts
  const t = translator(answers.language)
  const base = opts.url.replace(/\/+$/, '')
  const executablePath = opts.chromiumPath ?? findChromium()
  if (!executablePath && !opts.browser) throw new ReplayError('browser', 'no Chromium found: set CHROMIUM_PATH, or install it (Debian: apt-get install chromium)')

  if (answers.restore && 'file' in answers.restore && !existsSync(backupFile(answers.restore.file))) {
    throw new ReplayError('restore', `cannot read the backup ${backupFile(answers.restore.file)}`)
  }
  const browser = opts.browser ?? await launchChromium(executablePath!)
  let context: BrowserContext | undefined
  const reports: StepReport[] = []
  let current = 'start'
  let page: Page | undefined
  try {
    context = await browser.newContext({ locale: answers.language === 'fr' ? 'fr-FR' : 'en-US' })
    page = await context.newPage()
    page.setDefaultTimeout(opts.timeoutMs ?? 30_000)
    const p = page

    const step = async (name: string, fn: () => Promise<void>) => {
      current = name
      const started = performance.now()
      await fn()
      const report = { step: name, ms: Math.round(performance.now() - started) }
      reports.push(report)
      opts.onStep?.(report)
    }
    const next = () => p.getByRole('button', { name: t('common.next'), exact: true }).click()
    /** After a submit: either the expected page, or the page's own error message. */
    const expectPath = async (suffix: string) => {
      await p.waitForLoadState('domcontentloaded')
      const pathname = new URL(p.url()).pathname
      if (pathname.endsWith(suffix)) return
      const said = await pageError(p)
      throw said ? new PageMessage(said) : new Error(`expected ${suffix}, got ${pathname}`)
    }

    await step('token', async () => {
      const res = await p.goto(`${base}/setup/token`)
      if (res?.status() === 404) throw new Error('the server is already installed: its setup wizard answers 404')
      await p.getByLabel(t('setup.token.label'), { exact: true }).fill(opts.token)
      await p.getByRole('button', { name: t('setup.token.submit'), exact: true }).click()
      await expectPath('/setup/language')
    })
    await step('language', async () => {
      await p.getByRole('radio', { name: t(`common.language.${answers.language}`) }).check()
      await next()
      await expectPath('/setup/prerequisites')
    })
    await step('prerequisites', async () => {
      await next()
      await expectPath('/setup/database')
    })
    await step('database', async () => {
      const db = answers.database
      const label = (key: string) => p.getByLabel(t(`setup.database.${key}`), { exact: true })
      // A radio's accessible name is its label followed by its hint.
      const radio = (group: string, value: string) => p.getByRole('radio', { name: `${t(`setup.database.${group}.${value}`)}` })
      await p.getByRole('radio', { name: t(`setup.database.instanceChoices.${db.multipleInstances ? 'multiple' : 'single'}`) }).check()
      await radio('providers', db.provider).check()
      if (db.provider === 'sqlite') {
        await label('file').fill(db.file)
      } else if (db.url !== undefined) {
        await label('url').fill(db.url)
      } else {
        await label('host').fill(db.host ?? '')
        await label('port').fill(db.port === undefined ? '' : String(db.port))
        await label('user').fill(db.user ?? '')
        await label('password').fill(db.password ?? '')
        await label('database').fill(db.database ?? '')
        const ssl = db.ssl ?? 'off'
        await p.getByRole('radio', { name: `${t(`setup.database.tlsModes.${ssl}`)} ${t(`setup.database.tlsHints.${ssl}`)}` }).check()
        if (db.caFile !== undefined) await label('caFile').fill(db.caFile)
      }
      await next()
      await p.waitForLoadState('domcontentloaded')
      if (db.provider !== 'sqlite' && new URL(p.url()).pathname.endsWith('/setup/database')) {
        // The test found something to confirm: a database to create, or other tables to install beside.
        const createLabel = t('setup.database.createButton', { database: '\u0001' }).split('\u0001')[0].replace(/[«“"\s\u00a0]+$/, '')
        const createButton = p.getByRole('button', { name: createLabel })
        if (db.create && await createButton.count() > 0) {
          await createButton.first().click()
          await p.waitForFunction(() => !document.querySelector('[data-test-result][aria-busy]'))
          if (await createButton.count() > 0) throw new PageMessage(await pageError(p) ?? 'the database could not be created')
        }
        const confirm = p.getByRole('checkbox', { name: t('setup.database.confirmOtherTables') })
        if (db.allowOtherTables && await confirm.count() > 0) await confirm.check()
        if (await createButton.count() === 0) await next()
      }
      await expectPath('/setup/cache')
    })
    await step('cache', async () => {
      await p.getByRole('radio', { name: t(`setup.cache.backends.${answers.cache.backend}`) }).check()
      if (answers.cache.backend === 'filesystem') await p.getByLabel(t('setup.cache.dir'), { exact: true }).fill(answers.cache.dir)
      if (answers.cache.backend === 'redis') {
        await p.getByRole('radio', { name: t('setup.cache.redis.inputs.url') }).check()
        await p.getByLabel(t('setup.cache.redis.url'), { exact: true }).fill(answers.cache.url)
        if (answers.cache.password) await p.getByLabel(t('setup.cache.redis.password'), { exact: true }).fill(answers.cache.password)
      }
      await next()
      await p.waitForLoadState('domcontentloaded')
      // A Redis database that already holds keys: used only when the answers say so (cache.allowNonEmpty).
      const nonEmpty = p.getByRole('checkbox', { name: t('setup.cache.confirmNonEmpty') })
      if (answers.cache.backend === 'redis' && answers.cache.allowNonEmpty && new URL(p.url()).pathname.endsWith('/setup/cache') && await nonEmpty.count() > 0) {
        await nonEmpty.check()
        await next()
      }
      await expectPath('/setup/restore')
    })
    await step('restore', async () => {
      const restore = answers.restore
      if (!restore) {
        await p.getByRole('radio', { name: t('setup.restore.modes.fresh') }).check()
      } else {
        // The server verifies the whole backup before it shows what it holds: allow for a big one.
        const verified = { timeout: 600_000 }
        const summary = p.locator('.restore-summary')
        if ('file' in restore) {
          // As a person does: choose "Upload", then the file; the page's script uploads it and opens the confirmation.
          await p.getByRole('radio', { name: t('setup.restore.modes.upload') }).check()
          await p.getByLabel(t('setup.restore.upload'), { exact: true }).setInputFiles(backupFile(restore.file))
          const refused = p.locator('[data-upload-status].error')
          await summary.or(refused).first().waitFor(verified)
          if (await refused.count() > 0) throw new PageMessage((await refused.innerText()).trim())
        } else {
          await p.getByRole('radio', { name: t('setup.restore.modes.path') }).check()
          await p.getByLabel(t('setup.restore.path'), { exact: true }).fill(restore.path)
          await p.getByRole('button', { name: t('setup.restore.verify'), exact: true }).click(verified)
          await p.waitForLoadState('domcontentloaded')
          if (await summary.count() === 0) throw new PageMessage(await pageError(p) ?? 'the server did not accept the backup')
        }
      }
      await next()
      await expectPath('/setup/admin')
    })
    await step('admin', async () => {
      const admin = answers.admin
      const choice = (value: 'keep' | 'new') => p.getByRole('radio', { name: t(`setup.admin.accountChoices.${value}`) })
      if (admin.keepRestored) {
        if (await choice('keep').count() === 0) throw new Error('the wizard offers no restored administrator accounts to keep')
        await choice('keep').check()
      } else {
        // After a restore the page first asks whether to keep the restored accounts.
        if (await choice('new').count() > 0) await choice('new').check()
        await p.getByLabel(t('setup.admin.username'), { exact: true }).fill(admin.username)
        await p.getByLabel(t('setup.admin.email'), { exact: true }).fill(admin.email ?? '')
        await p.getByLabel(t('setup.admin.password'), { exact: true }).fill(admin.password)
        await p.getByLabel(t('setup.admin.confirm'), { exact: true }).fill(admin.password)
      }
      await next()
      await expectPath('/setup/finalize')
    })
    await step('finalize', async () => {
      await p.getByRole('button', { name: t('setup.finalize.install'), exact: true }).click()
      const done = p.getByRole('link', { name: t('setup.finalize.login'), exact: true })
      const failed = p.locator('.install-failed')
      // The stages stream in: each new line (a migration applied, rows restored, a stage done) is reported.
      let reported = 0
      const deadline = Date.now() + 300_000
      const report = async () => {
        const lines = await p.locator('ol.stages > li').evaluateAll(items => items.map(li => ({
          stage: li.querySelector('.stage-name')?.textContent ?? '',
          status: li.getAttribute('data-status') ?? '',
          text: li.querySelector('.stage-detail')?.textContent ?? li.querySelector('.stage-status')?.textContent ?? ''
        })))
        for (const line of lines.slice(reported)) opts.onProgress?.(line)
        reported = Math.max(reported, lines.length)
      }
      while (await done.or(failed).count() === 0) {
        await report()
        // Until a new line or the outcome comes in.
        const left = deadline - Date.now()
        if (left <= 0) throw new Error('the install did not finish in 5 minutes')
        await p.waitForFunction(n => document.querySelectorAll('ol.stages > li').length > n || document.querySelector('.install-result') !== null, reported, { timeout: left })
      }
      await report()
      if (await failed.count() > 0) throw new PageMessage((await failed.locator('.error').allInnerTexts()).join('\n').trim() || (await failed.innerText()).trim())
      await done.click()
      await expectPath('/login')
    })
    await step('login', async () => {
      await p.getByLabel(t('app.login.login'), { exact: true }).fill(answers.admin.username)
      await p.getByLabel(t('app.login.password'), { exact: true }).fill(answers.admin.password)
      await p.getByRole('button', { name: t('app.login.submit'), exact: true }).click()
      await expectPath('/dashboard')
      await p.getByRole('heading', { name: t('app.dashboard.title'), exact: true }).waitFor()
    })
    return reports
  } catch (err) {
    let screenshot: string | undefined
    if (page) {
      const dir = opts.screenshotDir ?? path.join(os.tmpdir(), 'amorce-replay')
      await mkdir(dir, { recursive: true })
      screenshot = path.join(dir, `failed-${current}-${Date.now()}.png`)
      // Password fields are masked by the browser, so the picture shows no secret.
      await page.screenshot({ path: screenshot, fullPage: true }).catch(() => { screenshot = undefined })
    }
    const message = err instanceof PageMessage ? err.message : err instanceof Error ? err.message.split('\n')[0] : String(err)
    throw new ReplayError(current, message, screenshot)
  } finally {
    if (opts.browser) await context?.close()
    else await browser.close()
  }
}

/** A backup to upload: a relative path is taken from the replay's working directory, like any file argument. */
function backupFile (file: string): string {
  return path.resolve(file)
}

/**
 * The error message the page shows to a person, if any, whole: the summary's title and each of its items on
 * its own line, then a failed test's result with its advice, then any other alert; each line once.
 */
async function pageError (page: Page): Promise<string | undefined> {
  // No named functions inside: tsx would wrap them in a helper the page does not have.
  const lines = await page.evaluate(() => {
    const els: Element[] = []
    const summary = document.querySelector('[data-error-summary]')
    if (summary) {
      const title = summary.querySelector('.error-summary-title')
      if (title) els.push(title)
      summary.querySelectorAll('.error-summary-list a:not([data-fix-link])').forEach(a => els.push(a))
    }
    document.querySelectorAll('[data-test-result] .alert-error p, [data-test-result] .alert-warning, .field .hint.advice').forEach(p => els.push(p))
    document.querySelectorAll('[role=alert]').forEach(el => { if (!summary?.contains(el) && !el.closest('[data-test-result]')) els.push(el) })
    return els.map(el => (el.textContent ?? '').replace(/\s+/g, ' ').trim()).filter(text => text !== '')
  })
  const unique = [...new Set(lines)]
  return unique.length ? unique.join('\n') : undefined
}
