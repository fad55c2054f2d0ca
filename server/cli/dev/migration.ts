// `amorce dev migration NAME`: the next migration of a host for every provider, under one directory name
// (`<YYYYMMDDHHMMSS>_<name>`): SQLite and PostgreSQL from Prisma's wasm schema engine (./engine.ts), MySQL from
// Amorce's generator (./mysql.ts). Every script first, then the writes: a failure leaves nothing half-made.
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { ENGINE_PROVIDERS, migrationDirName, nextMigrationScriptFor, postgresDevUrl, slugifyMigrationName, writeMigration, type EngineProvider } from './engine.ts'
import { assertHostRoot, DEV_PROVIDERS, hostLayout, type DevProvider } from './host.ts'
import { nextMysqlScript, readDatamodel } from './mysql.ts'
import { staleSchemas } from './schemas.ts'

export class SchemasStale extends Error {
  constructor (readonly providers: DevProvider[]) {
    super(`schema.prisma is not the composed one for ${providers.join(', ')}`)
  }
}

export class InvalidMigrationName extends Error {
  constructor (readonly migrationName: string) {
    super(`not a migration name: "${migrationName}"`)
  }
}

/** One provider's failure, kept to be reported with the others. */
export interface ProviderFailure { provider: DevProvider, error: Error }
export class MigrationScriptsFailed extends Error {
  constructor (readonly failures: ProviderFailure[]) {
    super(failures.map(f => `${f.provider}: ${f.error.message}`).join('\n'))
  }
}

export interface MigrationPlan {
  dirName: string
  /** the providers with something to write, and what */
  scripts: Map<DevProvider, string>
  /** the providers whose migrations already build their schema */
  upToDate: DevProvider[]
}

async function mysqlHistory (dir: string): Promise<string[]> {
  const names = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter(e => e.isDirectory()).map(e => e.name).sort()
  return Promise.all(names.map(name => readFile(path.join(dir, name, 'migration.sql'), 'utf8')))
}

/** What the next migration holds for each provider; throws before anything is written. */
export async function planMigration (root: string, name: string, options: { providers?: readonly DevProvider[], now?: Date, postgresUrl?: string } = {}): Promise<MigrationPlan> {
  if (slugifyMigrationName(name) === '') throw new InvalidMigrationName(name)
  const layout = hostLayout(root)
  assertHostRoot(layout)
  const providers = options.providers ?? DEV_PROVIDERS
  const stale = staleSchemas(layout, providers)
  if (stale.length > 0) throw new SchemasStale(stale)
  const plan: MigrationPlan = { dirName: migrationDirName(name, options.now), scripts: new Map(), upToDate: [] }
  const failures: ProviderFailure[] = []
  for (const provider of providers) {
    try {
      let next: { empty: boolean, script: string }
      if ((ENGINE_PROVIDERS as readonly string[]).includes(provider)) {
        next = await nextMigrationScriptFor(provider as EngineProvider, {
          schemaFile: layout.schema(provider),
          migrationsDir: layout.migrations(provider),
          url: provider === 'postgresql' ? (options.postgresUrl ?? postgresDevUrl()) : undefined,
          root: layout.root
        })
      } else {
        next = nextMysqlScript(await readDatamodel(layout.root, layout.schema(provider)), await mysqlHistory(layout.migrations(provider)))
      }
      if (next.empty) plan.upToDate.push(provider)
      else plan.scripts.set(provider, next.script)
    } catch (error) {
      failures.push({ provider, error: error as Error })
    }
  }
  if (failures.length > 0) throw new MigrationScriptsFailed(failures)
  return plan
}

/** Writes a plan's scripts (and each provider's lockfile); returns the files written. */
export async function writePlan (root: string, plan: MigrationPlan): Promise<string[]> {
  const layout = hostLayout(root)
  const written: string[] = []
  for (const [provider, script] of plan.scripts) written.push(await writeMigration(provider, plan.dirName, script, layout.migrations(provider)))
  return written
}
