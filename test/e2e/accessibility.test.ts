// The wizard for a phone, a keyboard and a screen reader, in both languages, on the real server in Chromium:
// every page and every error state has 0 axe-core violations (any impact) and no sideways scroll at 320 and
// 390 px; after a failed submit the focus is on the error summary, whose links move the focus to the fields;
// and one whole install is done with the keyboard alone. One browser for the file, one page per language.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { CHROMIUM_ARGS } from '../../server/replay/replay.ts'
import { loadChromium } from '../../server/replay/playwright.ts'
import { translator, type Language } from '../../server/i18n.ts'
import { chromiumPath } from '../helpers/services.ts'
import { freshServer } from '../helpers/server.ts'

const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'

interface Checked { states: number, current?: string, violations: string[], wide: string[], ms: number, axeMs: number }
const newChecked = (): Checked => ({ states: 0, violations: [], wide: [], ms: 0, axeMs: 0 })

/** axe-core on the page as it is, then the page at 320 and 390 px: nothing wider than the window. */
async function check (page: Page, name: string, seen: Checked): Promise<void> {
  seen.states++
  seen.current = name
  const started = performance.now()
  const axeStarted = performance.now()
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: Array<{ id: string, impact: string, nodes: Array<{ target: string[] }> }> }> } }).axe
    const r = await axe.run(document, { resultTypes: ['violations'] })
    return r.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)
  })
  for (const v of violations) seen.violations.push(`${name}: ${v}`)
  seen.axeMs += performance.now() - axeStarted
  // The pages run at 390 px: 320 is checked too, then back.
  const wide = async (width: number) => {
    const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }))
    if (scroll > inner) seen.wide.push(`${name} at ${width} px: ${scroll} px wide`)
  }
  await wide(390)
  await page.setViewportSize({ width: 320, height: 800 })
  await wide(320)
  await page.setViewportSize({ width: 390, height: 844 })
  seen.ms += performance.now() - started
}

/** After a failed submit: the summary has the focus, and each of its links moves the focus to its field. */
async function checkErrorFocus (page: Page, name: string): Promise<void> {
  const focused = await page.evaluate(() => document.activeElement?.id)
  assert.equal(focused, 'form-error', `${name}: the error summary has the focus`)
  assert.match(await page.title(), /^(Error: |Erreur\u00a0: )/, `${name}: the title says there is an error`)
  const targets = await page.locator('[data-error-summary] a').evaluateAll(links => links.map(a => a.getAttribute('href')!.slice(1)))
  assert.ok(targets.length > 0, `${name}: the summary links to the fields`)
  for (const [i, target] of targets.entries()) {
    await page.locator('#form-error').focus()
    for (let n = 0; n <= i; n++) await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    assert.equal(await page.evaluate(() => document.activeElement?.id), target, `${name}: link ${i + 1} moves the focus to #${target}`)
    const described = await page.locator(`#${target}`).getAttribute('aria-describedby') ?? ''
    const fieldset = await page.locator(`#${target}`).evaluate(el => el.closest('fieldset')?.getAttribute('aria-describedby') ?? '')
    assert.match(`${described} ${fieldset}`, /-error\b/, `${name}: #${target} is described by its message`)
  }
}

/** Tabs until the focused element matches `selector` (at most 80 presses). */
async function tabTo (page: Page, selector: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab')
    if (await page.evaluate(s => document.activeElement?.matches(s) ?? false, selector)) return
  }
  throw new Error(`Tab never reached ${selector}`)
}

/** A radio by the keyboard: Tab into its group, then arrows until it is checked. */
async function chooseRadio (page: Page, name: string, value: string): Promise<void> {
  await tabTo(page, `input[type=radio][name="${name}"]`)
  for (let i = 0; i < 6; i++) {
    if (await page.evaluate(v => (document.activeElement as HTMLInputElement).value === v, value)) break
    await page.keyboard.press('ArrowDown')
  }
  assert.ok(await page.locator(`input[name="${name}"][value="${value}"]`).isChecked(), `${name}=${value} chosen by the keyboard`)
}

async function typeInto (page: Page, id: string, text: string): Promise<void> {
  await tabTo(page, `#${id}`)
  await page.keyboard.press('Control+A')
  await page.keyboard.press('Backspace')
  if (text) await page.keyboard.type(text)
}

/** Runs `action`, which submits a form, and waits for the new page to have loaded. */
async function navigation (page: Page, action: () => Promise<unknown>): Promise<void> {
  await Promise.all([page.waitForEvent('load'), action()])
}

async function pressButton (page: Page, name: string): Promise<void> {
  await tabTo(page, `button:is([name=_action][value="${name}"], [type=submit]:not([name]))`)
  await navigation(page, () => page.keyboard.press('Enter'))
}

test('every page and error state, en and fr: axe 0 violations, no sideways scroll at 320/390 px, error focus; a keyboard-only install', { timeout: 600_000 }, async t => {
  const browserPath = chromiumPath(t)
  if (!browserPath) return
  // Launched as the replay launches it (same flags), with Chromium's own output kept: a renderer that crashes
  // ("Target crashed") fails the test with the state being checked and what Chromium said about it.
  const browserLog: string[] = []
  const browser = await loadChromium().launch({
    executablePath: browserPath,
    headless: true,
    args: CHROMIUM_ARGS,
    logger: { isEnabled: name => name === 'browser', log: (_name, _severity, message) => { browserLog.push(String(message)); if (browserLog.length > 200) browserLog.shift() } }
  })
  t.after(() => browser.close())

  // fr: every page and error state with the mouse; stops at the summary. en: the same by keyboard, then installs.
  // Each on a server of its own, both at once: a walk waits mostly on its page's round trips, not on the CPU.
  const walk = async (lang: Language, seen: Checked) => {
    const { dir, env, server } = await freshServer(t, browserPath)
    const token = (await readFile(path.join(env.DATA_DIR!, 'setup-token'), 'utf8')).trim()
    await writeFile(path.join(dir, 'not-a-dir'), 'a file where a directory is expected')
    const crashed = () => new Error(`the ${lang} page's renderer crashed (last state checked: ${seen.current ?? 'none'}); Chromium's last lines:\n${browserLog.slice(-40).join('\n')}`)
    const langStarted = performance.now()
    const tr = translator(lang)
    const keyboard = lang === 'en'
    // bypassCSP: axe's checks evaluate code the wizard's CSP (rightly) would refuse.
    const context = await browser.newContext({ locale: lang === 'fr' ? 'fr-FR' : 'en-GB', bypassCSP: true, viewport: { width: 390, height: 844 } })
    // axe-core in every page of the context, before the page's own scripts (no inline script tag per page).
    await context.addInitScript({ content: AXE })
    const page = await context.newPage()
    page.setDefaultTimeout(30_000)
    let crash: Error | undefined
    page.on('crash', () => { crash = crashed() })
    try {
      const at = (step: string) => `${lang} ${step}`
      const submit = async (action = 'next') => {
        if (keyboard) return pressButton(page, action)
        await navigation(page, () => page.locator(`button[name=_action][value="${action}"]:not(.visually-hidden)`).first().click())
      }
      const fill = async (id: string, text: string) => keyboard ? typeInto(page, id, text) : page.locator(`#${id}`).fill(text)
      const radio = async (name: string, value: string) => keyboard ? chooseRadio(page, name, value) : page.locator(`input[name="${name}"][value="${value}"]`).check()
      const expectStep = (step: string) => assert.match(new URL(page.url()).pathname, new RegExp(`/setup/${step}$`), `${lang}: on ${step}`)

      await page.goto(`${server.url}/setup/token`)
      await check(page, at('token'), seen)
      await fill('f-token', 'wrong-token-0123456789abcdef')
      if (keyboard) await pressButton(page, 'token')
      else await navigation(page, () => page.getByRole('button', { name: tr('setup.token.submit') }).click())
      await checkErrorFocus(page, at('token error'))
      assert.equal(await page.getByText(tr('setup.token.errors.invalid')).count(), 1, 'the wrong-token message is printed once')
      await check(page, at('token error'), seen)
      await fill('f-token', token)
      if (keyboard) await pressButton(page, 'token')
      else await navigation(page, () => page.getByRole('button', { name: tr('setup.token.submit') }).click())

      expectStep('language')
      await check(page, at('language'), seen)
      await radio('language', lang)
      await submit()
      expectStep('prerequisites')
      await check(page, at('prerequisites'), seen)
      await submit()

      expectStep('database')
      await check(page, at('database'), seen)
      // SQLite's warning about several instances shows only with "several instances".
      assert.equal(await page.getByText(tr('setup.database.sqliteSharedWarning')).isVisible(), false)
      await radio('instances', 'multiple')
      assert.equal(await page.getByText(tr('setup.database.sqliteSharedWarning')).isVisible(), true)
      await radio('instances', 'single')
      if (keyboard) {
        // "Test connection" runs in place and keeps the focus (aria-disabled while it runs, never disabled).
        await tabTo(page, 'button[name=_action][value=test]')
        await page.keyboard.press('Enter')
        await page.locator('[data-test-result] [data-outcome=ok]').waitFor()
        await page.waitForFunction(() => !document.querySelector('button[aria-busy]'))
        assert.equal(await page.evaluate(() => (document.activeElement as HTMLButtonElement | null)?.value), 'test', 'the focus stays on Test connection')
      }
      await fill('f-file', path.join(dir, 'not-a-dir', 'app.db'))
      await submit()
      await checkErrorFocus(page, at('database error'))
      assert.doesNotMatch(await page.locator('#f-file-error').innerText(), /\bE[A-Z]{3,}\b/, 'no raw error code')
      await check(page, at('database error'), seen)
      await fill('f-file', path.join(dir, 'data', 'app.db'))
      await submit()

      expectStep('cache')
      await check(page, at('cache'), seen)
      await radio('backend', 'filesystem')
      await fill('f-dir', path.join(dir, 'not-a-dir', 'cache'))
      await submit()
      await checkErrorFocus(page, at('cache error'))
      await check(page, at('cache error'), seen)
      await fill('f-dir', path.join(dir, 'data', 'cache'))
      await submit()

      expectStep('restore')
      await check(page, at('restore'), seen)
      await radio('mode', 'path')
      assert.equal(await page.locator('#f-path').isVisible(), true, 'the path field shows with "path"')
      assert.equal(await page.locator('#f-upload').isVisible(), false, 'the file picker is hidden with "path"')
      await submit()
      await checkErrorFocus(page, at('restore error'))
      await check(page, at('restore error'), seen)
      await radio('mode', 'fresh')
      assert.equal(await page.locator('#f-path').isVisible(), false, 'no path field for a fresh start')
      await submit()

      expectStep('admin')
      await check(page, at('admin'), seen)
      // A wrong email with a good password: the password is kept server-side, never sent back.
      await fill('f-email', 'not-an-email')
      await fill('f-password', PASSWORD)
      await fill('f-confirm', PASSWORD)
      await submit()
      await checkErrorFocus(page, at('admin error'))
      assert.ok(!(await page.content()).includes(PASSWORD), 'the password is not in the page')
      assert.equal(await page.locator('#f-password-hint').innerText(), tr('setup.admin.passwordKept'))
      await check(page, at('admin error'), seen)
      // A weak password: its reasons are tied to the field.
      await fill('f-password', 'azertyuiop')
      await fill('f-confirm', 'azertyuiop')
      await submit()
      await checkErrorFocus(page, at('admin weak password'))
      assert.match(await page.locator('#f-password').getAttribute('aria-describedby') ?? '', /f-password-error f-password-advice/)
      await check(page, at('admin weak password'), seen)
      await fill('f-password', '')
      await fill('f-confirm', '')
      await fill('f-email', 'admin@example.com')
      if (!keyboard) {
        // The suggestion fills both fields (shown), and a submit still keeps the server-side password if left.
        await page.getByRole('button', { name: tr('setup.admin.generate') }).click()
        assert.match(await page.locator('#f-password').inputValue(), /^(\w{5}-){3}\w{5}$/)
        await check(page, at('admin suggested password'), seen)
        await page.locator('#f-password').fill('')
        await page.locator('#f-confirm').fill('')
      }
      await submit()

      expectStep('finalize')
      await check(page, at('finalize'), seen)
      // The footer's language link, with this session (a plain fetch: the context keeps its own language cookie).
      const other = lang === 'fr' ? 'en' : 'fr'
      const cookie = (await context.cookies()).map(c => `${c.name}=${c.value}`).join('; ')
      const switched = await fetch(`${server.url}/setup/finalize?lang=${other}`, { headers: { cookie }, redirect: 'manual' })
      assert.equal(switched.status, 200, 'the summary renders in the other language')
      assert.match(await switched.text(), new RegExp(`<html lang="${other}">`))
      if (keyboard) {
        await pressButton(page, 'install')
        await page.locator('.install-result').waitFor({ timeout: 120_000 })
        await page.waitForLoadState('load')
        assert.equal(await page.locator('h1:visible').innerText(), tr('setup.finalize.installed'))
        assert.equal(await page.getByText(tr('setup.finalize.installingIntro')).isVisible(), false, '"Keep this page open" is gone')
        assert.equal(await page.evaluate(() => document.activeElement?.className), 'install-heading')
        await check(page, at('installed'), seen)
        const langLink = await page.locator(`footer a[hreflang=fr]`).getAttribute('href')
        const after = await fetch(new URL(langLink!, page.url()), { redirect: 'manual' })
        assert.equal(after.status, 200, 'the language link works after the install')
        assert.match(await after.text(), /<html lang="fr">/)
        await tabTo(page, 'a.button.primary')
        await Promise.all([page.waitForURL(/\/login$/), page.keyboard.press('Enter')])
        await check(page, at('login'), seen)
      }
    } catch (err) {
      // A crashed renderer makes every later call fail: the crash is what to report.
      throw crash ?? err
    }
    await context.close()
    console.log(`# ${lang} walk${lang === 'en' ? ' (keyboard only, with the install)' : ''}: ${((performance.now() - langStarted) / 1000).toFixed(1)} s`)
  }
  const walks = { fr: newChecked(), en: newChecked() }
  await Promise.all([walk('fr', walks.fr), walk('en', walks.en)])
  const seen = { ...newChecked(), states: walks.fr.states + walks.en.states, ms: walks.fr.ms + walks.en.ms, axeMs: walks.fr.axeMs + walks.en.axeMs }
  seen.violations.push(...walks.fr.violations, ...walks.en.violations)
  seen.wide.push(...walks.fr.wide, ...walks.en.wide)
  console.log(`# ${seen.states} page states checked in ${(seen.ms / 1000).toFixed(1)} s (axe ${(seen.axeMs / 1000).toFixed(1)} s): ${seen.violations.length} axe violations, ${seen.wide.length} too wide at 320/390 px`)
  assert.deepEqual(seen.violations, [])
  assert.deepEqual(seen.wide, [])
})
