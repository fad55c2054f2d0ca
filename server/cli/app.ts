// Which app a command serves: the module `--app <file>` names, else the one the working directory's package.json
// names (`"amorce": { "app": "./dist/amorce.js" }`), else the reference app. The module's default export is
// its AmorceOptions, the same object the host gives createServer or start.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { resolveDefinition, type AmorceOptions, type AppDefinition } from '../definition.ts'
import { UsageError } from './context.ts'

export interface LoadedApp {
  options: AmorceOptions
  definition: AppDefinition
  /** where it came from: the module's absolute path, or null for the reference app */
  module: string | null
}

/** The module package.json names in `cwd`, if any (relative to that directory). */
async function fromPackageJson (cwd: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(path.join(cwd, 'package.json'), 'utf8')
  } catch {
    return undefined
  }
  let pkg: unknown
  try { pkg = JSON.parse(text) } catch { return undefined }
  const app = (pkg as { amorce?: { app?: unknown } } | null)?.amorce?.app
  if (app === undefined) return undefined
  if (typeof app !== 'string' || app === '') throw new UsageError('cli.errors.appField', { file: path.join(cwd, 'package.json') })
  return app
}

export async function loadApp (cwd: string, given: string | undefined): Promise<LoadedApp> {
  const named = given ?? await fromPackageJson(cwd)
  if (named === undefined) {
    const { default: options } = await import('../app/index.ts')
    return { options, definition: resolveDefinition(options), module: null }
  }
  const file = path.resolve(cwd, named)
  let loaded: { default?: unknown }
  try {
    loaded = await import(pathToFileURL(file).href)
  } catch (error) {
    throw new UsageError('cli.errors.appNotLoaded', { module: file, detail: (error as Error).message })
  }
  const options = loaded.default as AmorceOptions
  try {
    return { options, definition: resolveDefinition(options), module: file }
  } catch (error) {
    throw new UsageError('cli.errors.appInvalid', { module: file, detail: (error as Error).message })
  }
}
