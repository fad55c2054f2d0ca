// Where a host app's Prisma side lives (models, per-provider headers and schemas, migrations, generated clients)
// and how the dev tools find the dev-only packages they need in the host's own node_modules.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { PROVIDERS, type DatabaseProvider } from '../../db/engines/index.ts'

// The engines are listed once (server/db/engines/index.ts).
export type DevProvider = DatabaseProvider
export const DEV_PROVIDERS: readonly DevProvider[] = PROVIDERS

/** The layout Amorce expects in a host package (the reference app's is the same, at the package root). */
export interface HostLayout {
  root: string
  /** `<root>/prisma/models.prisma`: the one model source */
  models: string
  header(provider: DevProvider): string
  schema(provider: DevProvider): string
  migrations(provider: DevProvider): string
}

export function hostLayout (root: string): HostLayout {
  const prisma = path.join(path.resolve(root), 'prisma')
  return {
    root: path.resolve(root),
    models: path.join(prisma, 'models.prisma'),
    header: provider => path.join(prisma, provider, 'header.prisma'),
    schema: provider => path.join(prisma, provider, 'schema.prisma'),
    migrations: provider => path.join(prisma, provider, 'migrations')
  }
}

/** The dev-only packages the tools load; the host installs them as devDependencies. */
export const DEV_PACKAGES = { prisma: 'prisma', engine: '@prisma/schema-engine-wasm', adapterUtils: '@prisma/driver-adapter-utils' } as const

/** A dev-only package is not installed where the host can reach it: the CLI says which and how to install it. */
export class DevPackageMissing extends Error {
  constructor (readonly packageName: string, readonly root: string) {
    super(`${packageName} is not installed in ${root}`)
  }
}

/**
 * Resolves `specifier` as the host would (its node_modules first), then as Amorce itself would (the reference
 * app, or a monorepo where the host's dev tools are hoisted next to Amorce).
 */
export function resolveDev (root: string, specifier: string, packageName = specifier): string {
  const anchors = [path.join(path.resolve(root), 'package.json'), import.meta.url]
  for (const anchor of anchors) {
    try {
      return createRequire(anchor).resolve(specifier)
    } catch {}
  }
  throw new DevPackageMissing(packageName, path.resolve(root))
}

/** Imports a dev-only module found by resolveDev. */
export async function importDev<T> (root: string, specifier: string, packageName = specifier): Promise<T> {
  return await import(pathToFileURL(resolveDev(root, specifier, packageName)).href) as T
}

/** A host root must have prisma/models.prisma; anything else is a usage mistake (wrong --root). */
export function assertHostRoot (layout: HostLayout): void {
  if (!existsSync(layout.models)) throw new HostRootInvalid(layout.models)
}

export class HostRootInvalid extends Error {
  constructor (readonly missing: string) {
    super(`no ${missing}`)
  }
}
