// The reference app's package directory (its prisma/, views/, locales/, package.json): the first folder with a
// package.json above this module, the same from the sources (server/app/) and the compiled tree (dist/server/app/).
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

function packageRoot (from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`)
  }
}

export const root: string = packageRoot(path.dirname(fileURLToPath(import.meta.url)))
