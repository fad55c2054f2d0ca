// Step 4: the cache backing sessions and rate limits: memory or a directory (Redis comes later).
import { mkdir, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { ActionOutcome, Input, Step, StepContext } from '../wizard.ts'

export const BACKENDS = ['filesystem', 'memory'] as const
type Backend = typeof BACKENDS[number]
const MIN_CACHE_FREE = 50 * 1024 * 1024

function defaultDir (ctx: StepContext): string {
  return path.join(ctx.config.dataDir, 'cache')
}

/** Creates, writes, renames, reads back and deletes a file in the directory, then checks free space. */
export async function testCacheDir (dir: string): Promise<{ ok: true, free: number } | { ok: false, reason: 'dirNotWritable' | 'diskFull', detail: string }> {
  const a = path.join(dir, `.amorce-probe-${process.pid}-a`)
  const b = path.join(dir, `.amorce-probe-${process.pid}-b`)
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await writeFile(a, 'probe', { mode: 0o600 })
    await rename(a, b)
    if (await readFile(b, 'utf8') !== 'probe') throw Object.assign(new Error('read back differs'), { code: 'EIO' })
    await rm(b)
  } catch (err) {
    await Promise.allSettled([rm(a, { force: true }), rm(b, { force: true })])
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN'
    return { ok: false, reason: code === 'ENOSPC' ? 'diskFull' : 'dirNotWritable', detail: code }
  }
  const s = await statfs(dir)
  const free = s.bavail * s.bsize
  if (free < MIN_CACHE_FREE) return { ok: false, reason: 'diskFull', detail: `${Math.round(free / 1024 ** 2)} MB` }
  return { ok: true, free }
}

async function test (input: Input): Promise<ActionOutcome & { backend?: Backend, dir?: string }> {
  const backend = input.backend as Backend
  if (!BACKENDS.includes(backend)) return { errors: { backend: { key: 'setup.cache.errors.backend' } } }
  if (backend === 'memory') return { backend, view: { test: { ok: true, key: 'setup.cache.testResult.memory' } } }
  const raw = (input.dir ?? '').trim()
  if (raw === '') return { errors: { dir: { key: 'setup.cache.errors.dirRequired' } } }
  if (raw.length > 1024 || raw.includes('\0')) return { errors: { dir: { key: 'setup.cache.errors.dirInvalid' } } }
  const dir = path.resolve(raw)
  const r = await testCacheDir(dir)
  if (!r.ok) return { errors: { dir: { key: `setup.cache.errors.${r.reason}`, params: { dir, detail: r.detail } } } }
  return { backend, dir, view: { test: { ok: true, key: 'setup.cache.testResult.filesystem', params: { dir, free: (r.free / 1024 ** 3).toFixed(1) } } } }
}

export const cacheStep: Step = {
  id: 'cache',
  values: ctx => ({ backend: ctx.data.cache?.backend ?? 'filesystem', dir: ctx.data.cache?.dir ?? defaultDir(ctx) }),
  async view () { return { backends: BACKENDS } },
  actions: { test },
  async submit (input, ctx) {
    const r = await test(input)
    if (r.errors || !r.backend) return r
    ctx.data.cache = r.backend === 'filesystem' ? { backend: 'filesystem', dir: r.dir } : { backend: 'memory' }
    return {}
  }
}
