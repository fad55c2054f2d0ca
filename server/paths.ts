// The package's root folder, where package.json, views/, locales/, public/ and prisma/ live: found the
// same way from the sources (server/…) and from the compiled tree (dist/server/…), which sit at
// different depths below it.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

function findPackageRoot (from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`)
  }
}

export const packageRoot: string = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)))

/** A path inside the package, e.g. `fromPackageRoot('views')`. */
export function fromPackageRoot (...segments: string[]): string {
  return path.join(packageRoot, ...segments)
}

/** A folder inside the package, with a trailing separator as `fileURLToPath(new URL('…/', …))` gives. */
export function packageDir (...segments: string[]): string {
  return path.join(packageRoot, ...segments) + path.sep
}
