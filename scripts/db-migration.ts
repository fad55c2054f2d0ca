// `npm run db:migration -- <name> [--root DIR]`: writes the next SQLite, PostgreSQL and MySQL migrations of this
// repository's reference app (or of the host app at DIR, e.g. examples/notes), laid out as `prisma migrate dev`
// would. The work is in server/cli/dev/ (what installed hosts run as `amorce dev migration`); this file keeps the
// repository's own entry and the helpers its tests drive to prove the runner's compatibility with Prisma's engine.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DiffTarget } from '@prisma/schema-engine-wasm'
import {
  databaseFileTarget, nextMigrationScriptFor, postgresDevUrl, schemaFileTarget, writeMigration as writeMigrationTo, type EngineProvider
} from '../server/cli/dev/engine.ts'
import { InvalidMigrationName, MigrationScriptsFailed, planMigration, SchemasStale, writePlan } from '../server/cli/dev/migration.ts'

export {
  DEFAULT_POSTGRES_DEV_URL, diffScript, ENGINE_PROVIDERS, lockfileContent, migrationDirName, migrationsTarget, openSchemaEngine,
  pgConfigFromUrl, postgresDevUrl, readMigrationsList, SCHEMA_FILTER, slugifyMigrationName, type EngineProvider, type SchemaEngineSession
} from '../server/cli/dev/engine.ts'

/** scripts/db-schemas.mjs ships no type declarations: this states the part of it we rely on. */
interface DbSchemas {
  PROVIDERS: readonly string[]
  prismaDir: string
  repoRoot: string
  composeSchema(provider: string, root?: string): string
  schemaPath(provider: string, root?: string): string
  rootArgument(argv: string[]): { root: string, rest: string[] }
}
// A non-literal specifier keeps TypeScript from demanding declarations for the .mjs module.
const dbSchemasModule = './db-schemas.mjs'
export const { PROVIDERS, prismaDir, repoRoot, composeSchema, schemaPath, rootArgument } = await import(dbSchemasModule) as DbSchemas

export function migrationsDirOf (provider: string, root = repoRoot): string {
  return path.join(root, 'prisma', provider, 'migrations')
}

/** What prisma/<provider>/schema.prisma describes. */
export function schemaTarget (provider: EngineProvider, root = repoRoot): Promise<DiffTarget> {
  return schemaFileTarget(schemaPath(provider, root))
}

/** The database the engine is connected to, described against prisma/<provider>/schema.prisma. */
export function databaseTarget (provider: EngineProvider, root = repoRoot): Promise<DiffTarget> {
  return databaseFileTarget(schemaPath(provider, root))
}

/** The SQL a new migration needs so that the migrations directory builds schema.prisma; `empty` if none. */
export function nextMigrationScript (provider: EngineProvider, options: { migrationsDir?: string; url?: string; root?: string } = {}): Promise<{ empty: boolean; script: string }> {
  const root = options.root ?? repoRoot
  return nextMigrationScriptFor(provider, { schemaFile: schemaPath(provider, root), migrationsDir: options.migrationsDir ?? migrationsDirOf(provider, root), url: options.url, root })
}

export function writeMigration (provider: string, dirName: string, script: string, migrationsDir = migrationsDirOf(provider)): Promise<string> {
  return writeMigrationTo(provider, dirName, script, migrationsDir)
}

function relative (file: string): string {
  return path.relative(process.cwd(), file) || file
}

async function main (argv: string[]): Promise<number> {
  const { root, rest } = rootArgument(argv)
  const name = rest.filter(arg => !arg.startsWith('-')).join(' ')
  try {
    const plan = await planMigration(root, name)
    for (const provider of plan.upToDate) console.log(`${provider}: the migrations already build ${relative(schemaPath(provider, root))}; nothing to write.`)
    for (const file of await writePlan(root, plan)) console.log(`wrote ${relative(file)}`)
    if (plan.scripts.size > 0) console.log('Review the SQL, then commit it together with the models.')
    return 0
  } catch (error) {
    if (error instanceof InvalidMigrationName) {
      console.error('usage: npm run db:migration -- <name> [--root DIR]   (e.g. add_user_timezone)')
      return 2
    }
    if (error instanceof SchemasStale) console.error(`${error.providers.map(p => relative(schemaPath(p, root))).join(', ')} do not match models.prisma: run \`npm run db:schemas\` first.`)
    else if (error instanceof MigrationScriptsFailed) {
      for (const { provider, error: cause } of error.failures) {
        const hint = provider === 'postgresql' ? ` (the engine needs a PostgreSQL server for its shadow database: ${postgresDevUrl()}; set AMORCE_MIGRATION_PG_URL)` : ''
        console.error(`${provider}: failed${hint}:\n${cause.message}`)
      }
      console.error('Nothing written.')
    } else throw error
    return 1
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
