// Tests that need something outside Node (Chromium, a database server) skip loudly when it is
// missing, except under CI=true, where a missing service is a failure.
import { existsSync } from 'node:fs'
import type { TestContext } from 'node:test'
import { findChromium } from '../../server/replay/replay.ts'

export function requireService (t: TestContext, name: string, available: boolean, howToInstall: string): boolean {
  if (available) return true
  const message = `${name} is not available: ${howToInstall}`
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing service fails the run)`)
  console.warn(`\n*** SKIPPED: ${message} ***\n`)
  t.skip(message)
  return false
}

export function chromiumPath (t: TestContext): string | undefined {
  const path = findChromium()
  return requireService(t, 'Chromium', Boolean(path && existsSync(path)), 'apt-get install -y chromium, or set CHROMIUM_PATH') ? path : undefined
}
