// Step 3: where the app keeps its data. SQLite (embedded) in this version; the file location is
// tested before it is accepted.
import path from 'node:path'
import { probeSqliteFile, type SqliteProbeResult } from '../../db/sqlite-probe.ts'
import type { ActionOutcome, Input, Step, StepContext } from '../wizard.ts'

export const PROVIDERS = ['sqlite'] as const

function defaultFile (ctx: StepContext): string {
  return path.join(ctx.config.dataDir, 'app.db')
}

function outcome (result: SqliteProbeResult): ActionOutcome {
  if (!result.ok) {
    return { errors: { file: { key: `setup.database.errors.${result.reason}`, params: { file: result.file, detail: result.detail ?? '' } } } }
  }
  return { view: { test: { ok: true, key: `setup.database.testResult.${result.state}`, params: { file: result.file, migrations: result.migrations ?? 0 } } } }
}

async function test (input: Input): Promise<ActionOutcome & { file?: string }> {
  if (!PROVIDERS.includes(input.provider as typeof PROVIDERS[number])) {
    return { errors: { provider: { key: 'setup.database.errors.provider' } } }
  }
  const raw = (input.file ?? '').trim()
  if (raw === '') return { errors: { file: { key: 'setup.database.errors.fileRequired' } } }
  if (raw.length > 1024 || raw.includes('\0')) return { errors: { file: { key: 'setup.database.errors.fileInvalid' } } }
  const file = path.resolve(raw)
  return { ...outcome(await probeSqliteFile(file)), file }
}

export const databaseStep: Step = {
  id: 'database',
  values: ctx => ({ provider: ctx.data.database?.provider ?? 'sqlite', file: ctx.data.database?.file ?? defaultFile(ctx) }),
  async view () { return { providers: PROVIDERS } },
  actions: { test },
  async submit (input, ctx) {
    const result = await test(input)
    if (result.errors || !result.file) return result
    ctx.data.database = { provider: 'sqlite', file: result.file, url: `file:${result.file}` }
    return {}
  }
}
