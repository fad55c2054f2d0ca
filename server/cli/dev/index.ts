// `amorce dev schemas|generate|migration NAME [--root DIR]`: a host's dev-time Prisma tools (compose the
// per-provider schemas, generate the clients, write the next migrations). They need the host's dev-only packages
// (prisma, @prisma/schema-engine-wasm) and say so, in the operator's language, when those are missing.
import path from 'node:path'
import type { CliContext, ParsedArgs } from '../context.ts'
import { EXIT, UsageError } from '../context.ts'
import { PrismaCliFailed, generateClients } from './generate.ts'
import { DevPackageMissing, HostRootInvalid } from './host.ts'
import { InvalidMigrationName, MigrationScriptsFailed, SchemasStale, planMigration, writePlan } from './migration.ts'
import { MysqlChangeUnsupported, SchemaReadFailed, UnsupportedForMysql } from './mysql.ts'
import { writeSchemas } from './schemas.ts'
import { postgresDevUrl } from './engine.ts'

export const DEV_SUBCOMMANDS = ['schemas', 'generate', 'migration'] as const

export async function runDev (ctx: CliContext, args: ParsedArgs): Promise<number> {
  const { t, out, err } = ctx
  const [sub, ...rest] = args.positionals
  if (!(DEV_SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(sub === undefined ? 'cli.errors.missingSubcommand' : 'cli.errors.unknownCommand', { group: 'dev', command: `dev ${sub}`, choices: DEV_SUBCOMMANDS.join(', ') })
  }
  const root = path.resolve(ctx.cwd, typeof args.flags.get('root') === 'string' ? String(args.flags.get('root')) : '.')
  const shown = (file: string) => path.relative(ctx.cwd, file) || file
  try {
    if (sub === 'schemas') {
      if (rest.length > 0) throw new UsageError('cli.errors.unexpectedArgument', { argument: rest[0] })
      const result = await writeSchemas(root)
      for (const file of result.headersCreated) out(t('cli.dev.headerCreated', { file: shown(file) }))
      for (const file of result.written) out(t('cli.dev.schemaWritten', { file: shown(file) }))
      return EXIT.ok
    }
    if (sub === 'generate') {
      if (rest.length > 0) throw new UsageError('cli.errors.unexpectedArgument', { argument: rest[0] })
      for (const provider of await generateClients(root)) out(t('cli.dev.clientGenerated', { provider }))
      return EXIT.ok
    }
    if (rest.length === 0) throw new UsageError('cli.errors.missingArgument', { argument: 'NAME' })
    const plan = await planMigration(root, rest.join(' '))
    for (const provider of plan.upToDate) out(t('cli.dev.upToDate', { provider }))
    for (const file of await writePlan(root, plan)) out(t('cli.dev.migrationWritten', { file: shown(file) }))
    if (plan.scripts.size > 0) out(t('cli.dev.review'))
    return EXIT.ok
  } catch (error) {
    if (error instanceof DevPackageMissing) {
      err(t('cli.dev.missingPackage', { package: error.packageName, root: shown(error.root), command: `npm install --save-dev ${error.packageName}` }))
      return EXIT.failed
    }
    if (error instanceof HostRootInvalid) {
      err(t('cli.dev.noModels', { file: shown(error.missing) }))
      return EXIT.usage
    }
    if (error instanceof InvalidMigrationName) throw new UsageError('cli.dev.invalidName', { name: error.migrationName })
    if (error instanceof SchemasStale) {
      err(t('cli.dev.schemasStale', { providers: error.providers.join(', ') }))
      return EXIT.failed
    }
    if (error instanceof PrismaCliFailed) {
      err(t('cli.dev.generateFailed', { provider: error.provider }))
      err(error.output.trim())
      return EXIT.failed
    }
    if (error instanceof MigrationScriptsFailed) {
      for (const { provider, error: cause } of error.failures) {
        err(t('cli.dev.providerFailed', { provider, detail: describe(ctx, cause) }))
        // The engine replays PostgreSQL migrations on a shadow database: it needs a server.
        if (provider === 'postgresql' && !(cause instanceof DevPackageMissing)) err(t('cli.dev.postgresHint', { url: redactUrl(postgresDevUrl()) }))
      }
      err(t('cli.dev.nothingWritten'))
      return EXIT.failed
    }
    throw error
  }
}

/** A provider's failure in words: the known ones have their own text, others their message. */
function describe (ctx: CliContext, error: Error): string {
  const { t } = ctx
  if (error instanceof DevPackageMissing) return t('cli.dev.missingPackage', { package: error.packageName, root: error.root, command: `npm install --save-dev ${error.packageName}` })
  if (error instanceof MysqlChangeUnsupported) return t('cli.dev.mysqlChanged', { tables: error.tables.join(', ') })
  if (error instanceof UnsupportedForMysql) return t('cli.dev.mysqlUnsupported', { what: error.what })
  if (error instanceof SchemaReadFailed) return t('cli.dev.schemaUnreadable', { output: error.output.trim() })
  return error.message
}

/** A URL as it may be printed: without its password. */
function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(AMORCE_MIGRATION_PG_URL)'
  }
}
