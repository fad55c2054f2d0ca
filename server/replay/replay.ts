// Headless replay: drives the real wizard pages in Chromium (playwright-core) from an answers file,
// finding fields by their role and localized label, as a person would.
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { TFunction } from 'i18next'
import { translator } from '../i18n.ts'
import type { Answers } from './answers.ts'
import { loadChromium } from './playwright.ts'
import { createRegistry, type Registry } from '../setup/registry.ts'
import type { ReplayContext } from '../setup/step.ts'
import type { DryRunVerdict } from '../setup/dry-run.ts'

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']

export class ReplayError extends Error {
  constructor (readonly step: string, message: string, readonly screenshot?: string) { super(message) }
}

/** How a dry run ended: the server's verdict (its page's JSON twin), or why the session could not be ended. */
export interface DryRunOutcome {
  /** the dry-run session was ended on the server (its upload deleted) */
  ended: boolean
  /** the verdict the end page gave; null when the end page was not reached */
  verdict: DryRunVerdict | null
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
  /** the steps the server's wizard has (default: Amorce's own); a host's replay gives its registry */
  registry?: Registry
  /** the app's texts in a language (a host's own steps' labels among them); default: Amorce's own */
  translate?: (lang: string) => TFunction
  /**
   * A dry run: the token is entered with "Dry run", every step is walked as for an install, and the summary's
   * "End dry run" replaces Install (no sign-in follows). Resolves only if Install would be accepted; on any
   * failure the dry-run session is still ended (its upload deleted) before the error is thrown.
   */
  dryRun?: boolean
  /** a dry run's end, once (success or failure): the verdict and plan the server gave */
  onDryRun?: (outcome: DryRunOutcome) => void
}

/**
 * CHROMIUM_PATH, else Debian's headless shell (package chromium-headless-shell), else Debian's full
 * /usr/bin/chromium, else Playwright's own browser when installed. The headless shell is the same Blink
 * without the desktop browser around it (what Playwright itself runs for headless Chromium): a replay
 * never shows a window, and on this 2-core machine the replay tests took 28% less CPU and 37% less wall
 * time with it than with the full browser.
 */
export function findChromium (env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.CHROMIUM_PATH, '/usr/bin/chromium-headless-shell', '/usr/bin/chromium', '/usr/bin/chromium-browser']
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
  const registry = opts.registry ?? createRegistry()
  const t = opts.translate?.(answers.language) ?? translator(answers.language)
  const base = opts.url.replace(/\/+$/, '')
  const executablePath = opts.chromiumPath ?? findChromium()
  if (!executablePath && !opts.browser) throw new ReplayError('browser', 'no Chromium found: set CHROMIUM_PATH, or install it (Debian: apt-get install chromium)')

  // A backup to upload must be readable before any browser starts.
  if (answers.restore && 'file' in answers.restore && !existsSync(path.resolve(answers.restore.file))) {
    throw new ReplayError('restore', `cannot read the backup ${path.resolve(answers.restore.file)}`)
  }
  const browser = opts.browser ?? await launchChromium(executablePath!)
  let context: BrowserContext | undefined
  const reports: StepReport[] = []
  let current = 'start'
  let page: Page | undefined
  let dryRunReported = false
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
      // The click waited for its navigation to commit: the expected address is already known then, and the
      // next step's locators wait for their elements; only a page to read for its error must be loaded.
      if (new URL(p.url()).pathname.endsWith(suffix)) return
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
      if (opts.dryRun) {
        const choice = p.getByRole('checkbox', { name: t('setup.dryRun.choice'), exact: true })
        if (await choice.count() === 0) throw new Error('the server offers no dry run (its version is older)')
        await choice.check()
      }
      await p.getByRole('button', { name: t('setup.token.submit'), exact: true }).click()
      await expectPath('/setup/language')
    })
    // Every step of the registry, in order, filled from its section of the answers file by the step itself.
    const steps = registry.steps
    for (const [i, s] of steps.entries()) {
      const following = steps[i + 1]
      await step(s.id, async () => {
        // A dry run's summary: "End dry run" instead of Install, and the server's verdict.
        if (opts.dryRun && !following) {
          const outcome = await endDryRun(p, t)
          dryRunReported = true
          opts.onDryRun?.(outcome)
          if (!outcome.verdict) throw new Error('the dry run could not be ended')
          if (!outcome.verdict.accepted) throw new PageMessage(`${t('setup.dryRun.refused')}\n${outcome.verdict.refusal?.text ?? ''}`.trim())
          return
        }
        const ctx: ReplayContext = {
          page: p,
          answer: (answers as Record<string, unknown>)[s.id],
          answers: answers as Record<string, unknown>,
          t,
          next,
          // After the last step (the install) the app's own sign-in page comes.
          expectNext: () => expectPath(following ? `/setup/${following.id}` : '/login'),
          pageError: () => pageError(p),
          fail: message => { throw new PageMessage(message) },
          progress: line => opts.onProgress?.(line)
        }
        if (s.replay) await s.replay(ctx)
        else {
          // A step without its own replay has nothing to fill: Next.
          await next()
          await ctx.expectNext()
        }
        if (!following) await expectPath('/login')
      })
    }
    if (opts.dryRun) return reports
    await step('login', async () => {
      await p.getByLabel(t('app.login.login'), { exact: true }).fill(answers.admin.username)
      await p.getByLabel(t('app.login.password'), { exact: true }).fill(answers.admin.password)
      const signInPage = new URL(p.url()).pathname
      // The answer to the form is a new document either way: the app's page (303) or the sign-in page again (401).
      const [answer] = await Promise.all([
        p.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === signInPage),
        p.getByRole('button', { name: t('app.login.submit'), exact: true }).click()
      ])
      // Signed in is a redirect away from the sign-in page to the app's own first page (the reference app's
      // dashboard, a host's own); the sign-in page again says why not.
      if (answer.status() >= 300 && answer.status() < 400) await p.waitForURL(u => u.pathname !== signInPage)
      await p.waitForLoadState('domcontentloaded')
      if (new URL(p.url()).pathname === signInPage) {
        const said = await pageError(p)
        throw said ? new PageMessage(said) : new Error(`still on ${signInPage} after signing in`)
      }
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
      // A dry run that stopped on the way still ends its session on the server (its upload is deleted there).
      if (opts.dryRun && !dryRunReported && current !== 'token') {
        dryRunReported = true
        opts.onDryRun?.(await endDryRun(page, t, `${base}/setup`).catch(() => ({ ended: false, verdict: null })))
      }
    }
    const message = err instanceof PageMessage ? err.message : err instanceof Error ? err.message.split('\n')[0] : String(err)
    throw new ReplayError(current, message, screenshot)
  } finally {
    if (opts.browser) await context?.close()
    else await browser.close()
  }
}

/**
 * Ends a dry-run session through its page: "End dry run" (the summary's button, or the notice every page of a
 * dry run shows; from `fallback` when the current page has neither), then the verdict's JSON twin on the end page.
 */
async function endDryRun (page: Page, t: TFunction, fallback?: string): Promise<DryRunOutcome> {
  const button = () => page.getByRole('button', { name: t('setup.dryRun.end'), exact: true })
  if (await button().count() === 0 && fallback) await page.goto(fallback)
  if (await button().count() === 0) return { ended: false, verdict: null }
  await button().last().click()
  await page.waitForLoadState('domcontentloaded')
  const json = page.locator('script#dry-run-result')
  if (await json.count() === 0) return { ended: false, verdict: null }
  return { ended: true, verdict: JSON.parse(await json.textContent() ?? 'null') as DryRunVerdict }
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
