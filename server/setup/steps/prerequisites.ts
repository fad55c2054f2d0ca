// Step 2: can this machine run the app? Each check is required, optional or info; the wizard
// refuses to go on while a required one fails.
import { mkdir, open, rm, statfs } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { AppConfig } from '../../config/config.ts'
import type { AppSchema } from '../../definition.ts'
import { PROVIDERS } from '../../db/engines/index.ts'
import { missingPrismaClients } from '../../reference.ts'
import { envFileWritable } from '../../config/envfile.ts'
import { sqliteDriverVersion } from '../../db/engines/sqlite.ts'
import { fsCause } from '../../i18n.ts'
import { defineStep } from '../step.ts'

export type CheckLevel = 'required' | 'optional' | 'info'
export interface CheckResult {
  id: string
  level: CheckLevel
  ok: boolean
  /** i18n params for the label/detail texts: setup.prerequisites.checks.<id>.{label,ok,fail,hint} */
  params: Record<string, unknown>
}

/** The floor package.json's `engines` states too: Prisma 7 needs 20.19, where require(esm) is on by default. */
export const MIN_NODE = [20, 19] as const
export const MIN_FREE_BYTES = 200 * 1024 * 1024
const COMFORTABLE_FREE_BYTES = 2 * 1024 * 1024 * 1024

// The reference app's generated clients (server/app/schema.ts knows where they are).
export { generatedDir, missingPrismaClients } from '../../reference.ts'

async function dirWritable (dir: string): Promise<string | null> {
  try {
    await mkdir(dir, { recursive: true })
    const probe = path.join(dir, `.amorce-probe-${process.pid}-${Date.now()}`)
    await (await open(probe, 'wx', 0o600)).close()
    await rm(probe)
    return null
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN'
  }
}

/** The app's providers without a generated client: its own file check, else each client loaded (a host's schema). */
async function missingClientsOf (schema: AppSchema): Promise<string[]> {
  if (schema.missingClients) return schema.missingClients(PROVIDERS)
  const loaded = await Promise.all(PROVIDERS.map(p => schema.client(p).then(() => null, () => p)))
  return loaded.filter(p => p !== null)
}

/** `generatedDir` (tests): the reference app's file check on another directory. */
export async function runChecks (config: AppConfig, opts: { schema: AppSchema, generatedDir?: string }): Promise<CheckResult[]> {
  const [major, minor] = process.versions.node.split('.').map(Number)
  const nodeOk = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])

  const dataErr = await dirWritable(config.dataDir)
  const env = await envFileWritable(config.envFile)

  let free: number | null = null
  try {
    const s = await statfs(dataErr ? path.dirname(config.dataDir) : config.dataDir)
    free = s.bavail * s.bsize
  } catch { /* reported as unknown below */ }

  let sqlite: string | null = null
  let sqliteError = ''
  try { sqlite = await sqliteDriverVersion() } catch (err) { sqliteError = (err as Error).message.slice(0, 200) }

  const missingClients = opts.generatedDir ? missingPrismaClients(opts.generatedDir) : await missingClientsOf(opts.schema)

  // Numbers, formatted by the page's language (74,2 in French).
  const gib = (n: number) => Math.round(n / 1024 ** 3 * 10) / 10
  return [
    { id: 'node', level: 'required', ok: nodeOk, params: { version: process.versions.node, min: MIN_NODE.join('.') } },
    { id: 'prismaClient', level: 'required', ok: missingClients.length === 0, params: { missing: missingClients.join(', ') } },
    { id: 'dataDir', level: 'required', ok: dataErr === null, params: { path: config.dataDir, code: fsCause(dataErr) } },
    { id: 'envFile', level: 'required', ok: env.ok, params: { path: config.envFile, reason: env.reason ?? '', code: fsCause(env.code) } },
    { id: 'disk', level: 'required', ok: free !== null && free >= MIN_FREE_BYTES, params: { free: free === null ? Number.NaN : gib(free), min: MIN_FREE_BYTES / 1024 ** 2 } },
    { id: 'diskComfort', level: 'optional', ok: free !== null && free >= COMFORTABLE_FREE_BYTES, params: { free: free === null ? Number.NaN : gib(free), comfortable: gib(COMFORTABLE_FREE_BYTES) } },
    { id: 'sqlite', level: 'required', ok: sqlite !== null, params: { version: sqlite ?? '', error: sqliteError } },
    { id: 'memory', level: 'info', ok: true, params: { total: gib(os.totalmem()), free: gib(os.freemem()) } },
    { id: 'platform', level: 'info', ok: true, params: { platform: `${os.type()} ${os.release()}`, arch: os.arch(), count: os.cpus().length } }
  ]
}

export const prerequisitesStep = defineStep({
  id: 'prerequisites',
  fields: {},
  values: () => ({}),
  unattended: () => ({}),
  async view (ctx) {
    const checks = await runChecks(ctx.config, { schema: ctx.definition.schema })
    return { checks, blocking: checks.some(c => c.level === 'required' && !c.ok) }
  },
  async submit (_input, ctx) {
    const checks = await runChecks(ctx.config, { schema: ctx.definition.schema })
    const failing = checks.filter(c => c.level === 'required' && !c.ok)
    if (failing.length > 0) {
      return { errors: { _form: { key: 'setup.prerequisites.errors.requiredFailing', params: { count: failing.length } } }, view: { checks, blocking: true } }
    }
    return {}
  },
  async replay ({ next, expectNext }) {
    await next()
    await expectNext()
  }
})
