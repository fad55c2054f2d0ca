// Step 5: start fresh or restore a backup of an earlier install. This version starts fresh; the
// choice is explicit so that the answers file and the finalize journal already carry it.
import type { Step } from '../wizard.ts'

export const RESTORE_MODES = ['fresh'] as const

export const restoreStep: Step = {
  id: 'restore',
  values: ctx => ({ mode: ctx.data.restore?.mode ?? 'fresh' }),
  async view () { return { modes: RESTORE_MODES } },
  async submit (input, ctx) {
    if (!RESTORE_MODES.includes(input.mode as 'fresh')) return { errors: { mode: { key: 'setup.restore.errors.mode' } } }
    ctx.data.restore = { mode: 'fresh' }
    return {}
  }
}
