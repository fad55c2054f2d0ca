// `amorce doctor`: the prerequisites, the configuration, the database, the migrations, the cache, the install
// lock and the setup token, each with the wizard's own checks and messages. Exits 1 naming what is wrong.
import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError, loadConfig, type AppConfig } from '../config/config.ts'
import { probeRedis, redactRedisUrl } from '../cache/redis-probe.ts'
import { createClient } from '../runtime.ts'
import type { AppSchema } from '../definition.ts'
import { migrationStatus, sqliteFilePath, type MigrationStatus } from '../db/migrate.ts'
import { probeDatabase } from '../db/probe.ts'
import { parseDatabaseUrl } from '../db/engines/index.ts'
import { probeSqliteFile } from '../db/engines/sqlite.ts'
import { DatabaseUrlError, redactUrl } from '../db/url.ts'
import { INSTALL_LOCK_SETTING } from '../setup/finalize.ts'
import { testCacheDir } from '../setup/steps/cache.ts'
import { runChecks } from '../setup/steps/prerequisites.ts'
import { TOKEN_FILE_NAME } from '../setup/token.ts'
import { EXIT, type CliContext } from './context.ts'

type Status = 'ok' | 'warn' | 'fail' | 'info'
interface Finding { area: string, status: Status, key: string, params?: Record<string, unknown>, hint?: { key: string, params?: Record<string, unknown> } }

/** The password of a URL, to scrub driver messages (they may quote it). */
function secretsOf (config: AppConfig): string[] {
  const out: string[] = []
  for (const url of [config.values.databaseUrl, config.values.redisUrl]) {
    try { const p = decodeURIComponent(new URL(url ?? '').password); if (p.length >= 4) out.push(p) } catch { /* not a URL */ }
  }
  if (config.values.sessionSecret) out.push(config.values.sessionSecret)
  return out
}

function scrub (text: string, secrets: string[]): string {
  let out = text
  for (const s of secrets) out = out.split(s).join('[…]')
  return out
}

async function prerequisites (config: AppConfig, schema: AppSchema): Promise<Finding[]> {
  return (await runChecks(config, { schema })).map(c => ({
    area: 'prerequisites',
    status: c.level === 'info' ? 'info' : c.ok ? 'ok' : c.level === 'required' ? 'fail' : 'warn',
    key: `setup.prerequisites.checks.${c.id}.${c.ok || c.level === 'info' ? 'ok' : 'fail'}`,
    params: c.params,
    hint: c.ok || c.level === 'info' ? undefined : { key: `setup.prerequisites.checks.${c.id}.hint` }
  }))
}

async function lockAndToken (config: AppConfig, dbLock: string | undefined): Promise<Finding[]> {
  const findings: Finding[] = []
  if (config.installed) findings.push({ area: 'lock', status: 'ok', key: 'cli.doctor.lock.installed', params: { at: config.values.installedAt, file: config.envFile } })
  else if (dbLock) findings.push({ area: 'lock', status: 'ok', key: 'cli.doctor.lock.inDatabase', params: { at: dbLock, file: config.envFile } })
  else findings.push({ area: 'lock', status: 'info', key: 'cli.doctor.lock.notInstalled', params: { file: config.envFile } })

  // The token itself is a secret: only its file, its age and its expiry are reported.
  const file = path.join(config.dataDir, TOKEN_FILE_NAME)
  const info = await stat(file).catch(() => null)
  if (config.installed || dbLock) {
    if (info) findings.push({ area: 'token', status: 'warn', key: 'cli.doctor.token.leftOver', params: { file } })
    else findings.push({ area: 'token', status: 'ok', key: 'cli.doctor.token.none' })
    return findings
  }
  if (!info) return [...findings, { area: 'token', status: 'info', key: 'cli.doctor.token.absent', params: { file } }]
  const expiresAt = info.mtimeMs + config.setupTokenTtlHours * 3600_000
  if (expiresAt <= Date.now()) findings.push({ area: 'token', status: 'info', key: 'cli.doctor.token.expired', params: { file, at: new Date(expiresAt).toISOString() } })
  else findings.push({ area: 'token', status: 'ok', key: 'cli.doctor.token.valid', params: { file, at: new Date(expiresAt).toISOString() } })
  return findings
}

/** The database as the wizard's database step tests it; returns whether it answered. */
async function database (config: AppConfig, secrets: string[], schema: AppSchema): Promise<{ findings: Finding[], reachable: boolean }> {
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!provider || !url) {
    return { findings: [{ area: 'database', status: config.installed ? 'fail' : 'info', key: config.installed ? 'cli.doctor.database.missingConfig' : 'cli.doctor.database.notConfigured' }], reachable: false }
  }
  if (provider === 'sqlite') {
    let file: string
    try { file = sqliteFilePath(url) } catch { return { findings: [{ area: 'database', status: 'fail', key: 'setup.database.errors.fileInvalid' }], reachable: false } }
    if (!existsSync(file)) {
      // Probing would create the file: a missing one is only a problem once installed.
      return { findings: [{ area: 'database', status: config.installed ? 'fail' : 'info', key: config.installed ? 'cli.doctor.database.sqliteMissing' : 'cli.doctor.database.sqliteNew', params: { file } }], reachable: false }
    }
    const r = await probeSqliteFile(file, { schema })
    if (!r.ok) return { findings: [{ area: 'database', status: 'fail', key: `setup.database.errors.${r.reason}`, params: { file, detail: scrub(r.detail ?? '', secrets) } }], reachable: false }
    return { findings: [{ area: 'database', status: 'ok', key: 'cli.doctor.database.sqlite', params: { file, state: r.state } }], reachable: true }
  }
  let c
  try {
    c = parseDatabaseUrl(url)
  } catch (err) {
    return { findings: [{ area: 'database', status: 'fail', key: `setup.database.errors.${err instanceof DatabaseUrlError ? err.code : 'urlInvalid'}` }], reachable: false }
  }
  const r = await probeDatabase(c, { schema })
  const params = { host: c.host, port: c.port, user: c.user, database: c.database }
  if (!r.ok) {
    return {
      findings: [{
        area: 'database',
        status: 'fail',
        key: `setup.database.causes.${r.cause}`,
        params: { ...params, missing: (r.missing ?? []).join(', '), names: (r.names ?? []).join(', '), version: r.version ?? '', minimum: r.minimum ?? '', detail: r.cause === 'unknown' ? scrub(r.detail ?? '', [c.password, ...secrets]) : '' },
        hint: { key: `setup.database.hints.${r.cause}`, params }
      }],
      reachable: false
    }
  }
  const where = redactUrl(url)
  const findings: Finding[] = [{ area: 'database', status: 'ok', key: 'cli.doctor.database.server', params: { server: r.server, version: r.version, url: where } }]
  if (r.state === 'otherTables') findings.push({ area: 'database', status: config.installed ? 'fail' : 'warn', key: 'cli.doctor.database.otherTables', params: { names: r.tables.join(', ') } })
  return { findings, reachable: true }
}

function migrations (status: MigrationStatus, installed: boolean): Finding[] {
  const findings: Finding[] = [{ area: 'migrations', status: 'ok', key: 'cli.doctor.migrations.applied', params: { count: status.applied.length } }]
  if (status.pending.length > 0) {
    findings.push({ area: 'migrations', status: installed ? 'warn' : 'info', key: installed ? 'cli.doctor.migrations.pending' : 'cli.doctor.migrations.pendingInstall', params: { count: status.pending.length, names: status.pending.join(', ') } })
  }
  if (status.failed.length > 0) findings.push({ area: 'migrations', status: 'fail', key: 'cli.doctor.migrations.failed', params: { names: status.failed.join(', ') } })
  if (status.modified.length > 0) findings.push({ area: 'migrations', status: 'fail', key: 'cli.doctor.migrations.modified', params: { names: status.modified.join(', ') } })
  if (status.missingLocally.length > 0) findings.push({ area: 'migrations', status: 'fail', key: 'cli.doctor.migrations.unknown', params: { names: status.missingLocally.join(', ') } })
  return findings
}

async function cache (config: AppConfig): Promise<Finding[]> {
  const { cacheBackend: backend, cacheDir, redisUrl } = config.values
  if (!backend) return [{ area: 'cache', status: 'info', key: config.installed ? 'cli.doctor.cache.defaultMemory' : 'cli.doctor.cache.notConfigured' }]
  if (backend === 'memory') return [{ area: 'cache', status: 'info', key: 'cli.doctor.cache.memory' }]
  if (backend === 'filesystem') {
    if (!cacheDir) return [{ area: 'cache', status: 'fail', key: 'setup.cache.errors.dirRequired' }]
    const r = await testCacheDir(cacheDir)
    if (!r.ok) return [{ area: 'cache', status: 'fail', key: `setup.cache.errors.${r.reason}`, params: { dir: cacheDir, detail: r.detail } }]
    return [{ area: 'cache', status: 'ok', key: 'cli.doctor.cache.filesystem', params: { dir: cacheDir } }]
  }
  if (!redisUrl) return [{ area: 'cache', status: 'fail', key: 'setup.cache.errors.redisUrlRequired' }]
  const r = await probeRedis(redisUrl)
  if (!r.ok) {
    return [{ area: 'cache', status: 'fail', key: `setup.cache.errors.redis.${r.reason}`, params: { url: r.target ? redactRedisUrl(r.target) : '', detail: r.reason === 'invalidUrl' ? '' : r.detail, db: r.target?.db ?? 0 } }]
  }
  const findings: Finding[] = [{ area: 'cache', status: 'ok', key: 'setup.cache.testResult.redis', params: { version: r.version, url: redactRedisUrl(r.target), latency: r.latencyMs } }]
  if (r.evictionRisk) findings.push({ area: 'cache', status: 'warn', key: r.maxmemory ? 'setup.cache.warnings.eviction' : 'setup.cache.warnings.evictionNoLimit', params: { policy: r.maxmemoryPolicy } })
  return findings
}

/** The install lock's copy in the database; undefined when absent or unreadable. */
async function databaseLock (config: AppConfig, schema: AppSchema): Promise<string | undefined> {
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!provider || !url) return undefined
  let db
  try {
    db = await createClient(schema, provider, url)
    return (await db.setting.findUnique({ where: { key: INSTALL_LOCK_SETTING } }))?.value
  } catch {
    return undefined
  } finally {
    await db?.$disconnect().catch(() => {})
  }
}

export async function doctor (ctx: CliContext): Promise<number> {
  const { t, out } = ctx
  let config: AppConfig
  try {
    config = await loadConfig(ctx.env, ctx.cwd, { languages: (await ctx.app()).definition.languages })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    out(`${t('cli.doctor.marks.fail')} ${t('cli.doctor.areas.config')}: ${t('cli.errors.config', { detail: err.message })}`)
    out()
    out(t('cli.doctor.summary.problems', { count: 1, names: t('cli.doctor.areas.config') }))
    return EXIT.config
  }
  const secrets = secretsOf(config)
  const findings: Finding[] = [...await prerequisites(config, (await ctx.app()).definition.schema)]
  findings.push({ area: 'config', status: 'ok', key: 'cli.doctor.config.read', params: { file: config.envFile, dataDir: config.dataDir, from: config.fromEnvironment.join(', ') || '—' } })
  const db = await database(config, secrets, (await ctx.app()).definition.schema)
  findings.push(...db.findings)
  let dbLock: string | undefined
  if (db.reachable) {
    const { databaseProvider: provider, databaseUrl: url } = config.values
    try {
      const { definition } = await ctx.app()
      findings.push(...migrations(await migrationStatus({ provider: provider!, url: url!, migrationsDir: ctx.migrationsDir ?? definition.schema.migrationsDir(provider!) }), config.installed))
      dbLock = await databaseLock(config, definition.schema)
    } catch (err) {
      findings.push({ area: 'migrations', status: 'fail', key: 'cli.doctor.migrations.unreadable', params: { detail: scrub((err as Error).message, secrets) } })
    }
  }
  findings.push(...await cache(config))
  findings.push(...await lockAndToken(config, dbLock))

  let area = ''
  for (const f of findings) {
    if (f.area !== area) {
      area = f.area
      out(`${t(`cli.doctor.areas.${area}`)}`)
    }
    out(`  ${t(`cli.doctor.marks.${f.status}`)} ${t(f.key, f.params ?? {})}`)
    if (f.hint && f.status === 'fail') out(`         ${t(f.hint.key, f.hint.params ?? {})}`)
  }
  out()
  const failing = [...new Set(findings.filter(f => f.status === 'fail').map(f => f.area))]
  const warnings = findings.filter(f => f.status === 'warn').length
  if (failing.length > 0) {
    out(t('cli.doctor.summary.problems', { count: failing.length, names: failing.map(a => t(`cli.doctor.areas.${a}`)).join(', ') }))
    return EXIT.failed
  }
  out(t(warnings > 0 ? 'cli.doctor.summary.warnings' : 'cli.doctor.summary.ok', { count: warnings }))
  return EXIT.ok
}
