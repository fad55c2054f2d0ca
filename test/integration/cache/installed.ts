// Fixture: an already installed app (the .env written directly, as the wizard would) on the cache
// backend a test names, with one administrator.
import { writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { randomBytes } from 'node:crypto'
import { build, type Fixture } from '../../helpers/app.ts'
import { hashPassword } from '../../../server/auth/password.ts'

export const ADMIN = { username: 'admin', email: 'admin@example.com', password: 'Correct-Horse-Battery-Staple-42' }

export function installedEnv (dir: string, cache: { backend: 'memory' | 'filesystem' | 'redis', redisUrl?: string }, db?: { provider: string, url: string }): Record<string, string> {
  const env: Record<string, string> = {
    DATABASE_PROVIDER: db?.provider ?? 'sqlite',
    DATABASE_URL: db?.url ?? `file:${path.join(dir, 'data', 'app.db')}`,
    CACHE_BACKEND: cache.backend,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    APP_LOCALE: 'en',
    APP_INSTALLED_AT: new Date().toISOString()
  }
  if (cache.backend === 'filesystem') env.CACHE_DIR = path.join(dir, 'data', 'cache')
  if (cache.redisUrl) env.REDIS_URL = cache.redisUrl
  return env
}

export async function writeEnv (file: string, env: Record<string, string>): Promise<void> {
  await writeFile(file, Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 })
}

/** The app, installed and in normal mode, with the administrator ADMIN. */
export async function installedApp (t: TestContext, dir: string, cache: Parameters<typeof installedEnv>[1]): Promise<Fixture> {
  await mkdir(path.join(dir, 'data'), { recursive: true })
  await writeEnv(path.join(dir, '.env'), installedEnv(dir, cache))
  const fixture = await build(t, { dir })
  const { runtime, mode } = fixture.app.amorce
  if (mode !== 'normal' || !runtime) throw new Error(`normal mode did not start: ${fixture.app.amorce.unavailable?.part}`)
  await runtime.db.adminUser.create({ data: { username: ADMIN.username, email: ADMIN.email, passwordHash: await hashPassword(ADMIN.password) } })
  return fixture
}
