// `npm run screenshots`: every wizard step at 390 px (a phone), in English and in French, into
// docs/screenshots/<lang>/NN-<step>.png. Each language runs a fresh server (`npm start` on a temp directory)
// and installs it, so the pictures show the real pages, an error state and the finished install included.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { findChromium, launchChromium } from '../server/replay/replay.ts'
import { translator, type Language } from '../server/i18n.ts'

const root = fileURLToPath(new URL('../', import.meta.url))
const outDir = path.join(root, 'docs', 'screenshots')
const PASSWORD = 'Lanterne-Ardoise-Cerf-Volant-7'

async function startServer (dir: string): Promise<{ url: string, child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server/main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in 60 s:\n${out}`)), 60_000)
    const read = (d: Buffer) => {
      out += d
      const m = /waiting at (http:\/\/\S+?)\/?(?:\s|$)/.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1].replace('localhost', '127.0.0.1')) }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`the server exited (${code}):\n${out}`)) })
  })
  return { url, child }
}

async function shoot (page: Page, lang: Language, n: number, name: string): Promise<string> {
  const file = path.join(outDir, lang, `${String(n).padStart(2, '0')}-${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

async function run (lang: Language, chromiumPath: string): Promise<string[]> {
  const t = translator(lang)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'amorce-screenshots-'))
  const { url, child } = await startServer(dir)
  const browser = await launchChromium(chromiumPath)
  const files: string[] = []
  try {
    const context = await browser.newContext({ locale: lang === 'fr' ? 'fr-FR' : 'en-GB', viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, colorScheme: 'light' })
    const page = await context.newPage()
    let n = 0
    const snap = async (name: string) => { files.push(await shoot(page, lang, ++n, name)) }
    const submit = async (value = 'next') => {
      await Promise.all([page.waitForEvent('load'), page.locator(`button[name=_action][value="${value}"]:not(.visually-hidden)`).first().click()])
    }
    const token = (await readFile(path.join(dir, 'data', 'setup-token'), 'utf8')).trim()

    await page.goto(`${url}/setup/token`)
    await snap('token')
    await page.locator('#f-token').fill('not-the-token')
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: t('setup.token.submit') }).click()])
    await snap('token-error')
    await page.locator('#f-token').fill(token)
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: t('setup.token.submit') }).click()])

    await page.locator(`input[name=language][value=${lang}]`).check()
    await snap('language')
    await submit()
    await snap('prerequisites')
    await submit()
    await snap('database')
    await page.locator('#f-file').fill(path.join(dir, 'data', 'app.db'))
    await submit()
    await page.locator('input[name=backend][value=filesystem]').check()
    await snap('cache')
    await page.locator('#f-dir').fill(path.join(dir, 'data', 'cache'))
    await submit()
    await page.locator('input[name=mode][value=path]').check()
    await snap('restore')
    await page.locator('input[name=mode][value=fresh]').check()
    await submit()
    await page.locator('#f-email').fill('not-an-email')
    await page.locator('#f-password').fill(PASSWORD)
    await page.locator('#f-confirm').fill(PASSWORD)
    await submit()
    await snap('admin-error')
    await page.locator('#f-email').fill('admin@example.com')
    await submit()
    await snap('finalize')
    await submit('install')
    await page.locator('.install-result').waitFor({ timeout: 120_000 })
    await snap('installed')
    await context.close()
  } finally {
    await browser.close()
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
    await rm(dir, { recursive: true, force: true })
  }
  return files
}

const chromiumPath = findChromium()
if (!chromiumPath) {
  console.error('no Chromium found: set CHROMIUM_PATH, or install it (Debian: apt-get install chromium)')
  process.exit(3)
}
const index: string[] = ['# Screenshots', '', 'Every step of the setup wizard at 390 px wide (a phone), made by `npm run screenshots`.', '']
for (const lang of ['en', 'fr'] as Language[]) {
  await rm(path.join(outDir, lang), { recursive: true, force: true })
  await mkdir(path.join(outDir, lang), { recursive: true })
  const files = await run(lang, chromiumPath)
  index.push(`## ${lang === 'en' ? 'English' : 'Français'}`, '')
  for (const f of files) index.push(`- [${path.basename(f, '.png').replace(/^\d+-/, '')}](${lang}/${path.basename(f)})`)
  index.push('')
  console.log(`${lang}: ${files.length} screenshots in ${path.relative(root, path.join(outDir, lang))}`)
}
await writeFile(path.join(outDir, 'README.md'), index.join('\n'))
