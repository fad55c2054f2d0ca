// The package as a user gets it: `npm pack`, then `npm install --omit=dev <tarball>` in an empty directory.
// Shared by scripts/check-package.ts (types, smoke test) and bench/footprint.ts (size of the install).
import { execFileSync } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../', import.meta.url))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** Packs the repository into `dir` (npm pack runs `prepare`, i.e. the incremental build); returns the tarball's path. */
export function pack (dir: string): { tarball: string, bytes: number, unpackedBytes: number, files: number } {
  mkdirSync(dir, { recursive: true })
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const [info] = JSON.parse(out.slice(out.indexOf('[')))
  return { tarball: path.join(dir, info.filename), bytes: info.size, unpackedBytes: info.unpackedSize, files: info.entryCount }
}

/** A new project in `dir` with only the tarball installed, as production does; returns the time it took. */
export function installTarball (dir: string, tarball: string, extra: string[] = []): { ms: number } {
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'amorce-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2))
  const started = performance.now()
  execFileSync(npm, ['install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...extra], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] })
  return { ms: performance.now() - started }
}

/** Apparent size, disk usage (as `du`) in bytes and number of files under `dir` (links counted, not followed). */
export function treeSize (dir: string): { bytes: number, diskBytes: number, files: number } {
  let bytes = 0
  let diskBytes = 0
  let files = 0
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else {
        const st = lstatSync(p)
        files++
        bytes += st.size
        diskBytes += st.blocks * 512
      }
    }
  }
  walk(dir)
  return { bytes, diskBytes, files }
}
