// playwright-core, loaded only when a replay runs: it is an operator's tool, an optional peer dependency
// that a production install (`npm install --omit=dev`) does not have.
import { createRequire } from 'node:module'
import type { BrowserType } from 'playwright-core'

const require = createRequire(import.meta.url)

/** playwright-core cannot be loaded; the replay CLI explains how to add it (replay.errors.playwrightMissing). */
export class PlaywrightMissingError extends Error {
  constructor (cause: unknown) {
    super('playwright-core is not installed', { cause })
  }
}

export function loadChromium (): BrowserType {
  try {
    return (require('playwright-core') as typeof import('playwright-core')).chromium
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') throw new PlaywrightMissingError(err)
    throw err
  }
}

export function playwrightAvailable (): boolean {
  try { require.resolve('playwright-core'); return true } catch { return false }
}
