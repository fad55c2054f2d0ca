// App settings (the Setting table) read through the cache: a page view costs no database query,
// and a change is seen at once by every instance that shares the cache (Redis).
import type { AppState } from '../index.ts'

export const SETTINGS = {
  /** shown on the dashboard: tells apart several installs of the same app */
  instanceName: { key: 'instance.name', maxLength: 80 }
} as const
export type SettingName = keyof typeof SETTINGS

const TTL_MS = 5 * 60_000
const cacheKey = (name: SettingName) => `setting:${SETTINGS[name].key}`

export interface Settings {
  get(name: SettingName): Promise<string | null>
  /** '' removes the setting */
  set(name: SettingName, value: string): Promise<void>
}

export function createSettings (runtime: Pick<AppState, 'db' | 'cache'>): Settings {
  const { db, cache } = runtime
  return {
    async get (name) {
      // null is cached too ({ value: null }), so an unset setting does not hit the database either.
      const hit = await cache.wrap(cacheKey(name), TTL_MS, async () => {
        const row = await db.setting.findUnique({ where: { key: SETTINGS[name].key } })
        return { value: row?.value ?? null }
      })
      return hit.value
    },
    async set (name, value) {
      const key = SETTINGS[name].key
      const text = value.trim().normalize('NFC').slice(0, SETTINGS[name].maxLength)
      if (text === '') await db.setting.deleteMany({ where: { key } })
      else await db.setting.upsert({ where: { key }, create: { key, value: text }, update: { value: text } })
      // Dropped after the write: the next read, on any instance, fetches the new value.
      await cache.delete(cacheKey(name))
    }
  }
}
