// `npm run bench:backup [-- --rows 1000000]`: backup and restore of N AuditLog rows on each engine, with peak RSS
// and rows/s, against the engine's own bulk path in the same run (psql \copy for PostgreSQL, LOAD DATA LOCAL
// INFILE through the mariadb client for MariaDB). Not a test: it prints numbers. Needs the local servers.
// `npm run bench:backup -- --stress`: the peak RSS of verifying a gzip bomb (600 MiB of expanded data) and an
// archive with one 300 MB line, each in its own process (both must be refused, under 200 MB).
import { execFileSync } from 'node:child_process'
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import mariadb from 'mariadb'
import { createBackup } from '../server/backup/create.ts'
import { backupLimits } from '../server/backup/format.ts'
import { restoreBackup } from '../server/backup/restore.ts'
import { verifyBackupFile } from '../server/backup/verify.ts'
import { END_OF_ARCHIVE, fileHeader, padding } from '../server/backup/tar.ts'
import { createGzip } from 'node:zlib'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { appSchema } from '../server/backup/schema.ts'
import { migrate, type Provider } from '../server/db/migrate.ts'
import { referenceSchema } from '../server/app/schema.ts'
import { engineOf } from '../server/db/engines/index.ts'
import { adminStore } from '../server/app/admin-store.ts'

const APP_TABLES = await appSchema(referenceSchema)
/** A real argon2id PHC string: the verification refuses a password hash the app cannot check. */
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$9Tsn6VHKS1Td2SxLcyibNQ$2nn6sm+I4LKYNDkSRBXSNGIhJHwO07EEwrWEAefS77A'

/**
 * This process's own peak RSS: VmHWM belongs to the address space, which exec replaces. getrusage's maxrss is not
 * usable here: Linux keeps it across fork and exec, so a child would report the bench parent's peak (the seeding).
 */
function peakRssMb (): number {
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return Math.round(Number(hwm ? hwm[1] : process.resourceUsage().maxRSS) / 1024)
}

// Child mode: one backup or restore in a fresh process, so its peak RSS (getrusage maxrss) is its own.
if (process.argv[2] === '--child') {
  const [, , , what, provider, url, file] = process.argv as [string, string, string, 'backup' | 'restore' | 'verify', Provider, string, string]
  const started = process.hrtime.bigint()
  // The load alone (first to last progress event: read, verify, insert, commit), without the migrations around it,
  // is what compares with the engine's bulk load of the same rows into tables that already exist.
  let loadStart = 0n
  let loadEnd = 0n
  if (what === 'backup') await createBackup(createWriteStream(file), { schema: referenceSchema, provider, url, tmpDir: path.dirname(file) })
  else if (what === 'verify') {
    const report = await verifyBackupFile(file, { schema: referenceSchema, admin: adminStore, provider })
    console.log(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9, loadSeconds: 0, peakMb: peakRssMb(), codes: report.problems.map(p => p.code) }))
    process.exit(0)
  } else {
    await restoreBackup({
      schema: referenceSchema, admin: adminStore,
      file, provider, url, limits: backupLimits({}),
      onProgress: () => { loadEnd = process.hrtime.bigint(); if (loadStart === 0n) loadStart = loadEnd }
    })
  }
  const loadSeconds = Number(loadEnd - loadStart) / 1e9
  console.log(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9, loadSeconds, peakMb: peakRssMb() }))
  process.exit(0)
}

const rows = Number(process.argv[process.argv.indexOf('--rows') + 1] || 1_000_000) || 1_000_000
// `--engines sqlite,postgresql` runs only those (default: all three).
const engines = (process.argv.includes('--engines') ? process.argv[process.argv.indexOf('--engines') + 1] : 'sqlite,postgresql,mysql').split(',') as Provider[]
const PG = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const MY = process.env.BENCH_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/mysql'
const work = await mkdtemp(path.join(tmpdir(), 'amorce-bench-'))
const cleanups: Array<() => Promise<void>> = []

async function database (provider: Provider, tag: string): Promise<string> {
  const name = `amorce_bench_${tag}_${process.pid}`
  if (provider === 'sqlite') return `file:${path.join(work, `${name}.db`)}`
  if (provider === 'postgresql') {
    const c = new pg.Client({ connectionString: PG }); await c.connect(); await c.query(`CREATE DATABASE ${name}`); await c.end()
    cleanups.push(async () => { const d = new pg.Client({ connectionString: PG }); await d.connect(); await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await d.end() })
    const u = new URL(PG); u.pathname = `/${name}`; return u.toString()
  }
  const c = await mariadb.createConnection({ host: '127.0.0.1', user: 'root' }); await c.query(`CREATE DATABASE ${name}`); await c.end()
  cleanups.push(async () => { const d = await mariadb.createConnection({ host: '127.0.0.1', user: 'root' }); await d.query(`DROP DATABASE IF EXISTS ${name}`); await d.end() })
  const u = new URL(MY); u.pathname = `/${name}`; return u.toString()
}

/** N AuditLog rows (and one admin they point to), inserted through the adapter in big batches. */
async function seed (provider: Provider, url: string): Promise<void> {
  await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url })
  const engine = await engineOf(provider).backup.open(url)
  const [admin, , audit] = [APP_TABLES.find(t => t.name === 'AdminUser')!, null, APP_TABLES.find(t => t.name === 'AuditLog')!]
  await engine.beginWrite()
  const now = Date.parse('2026-01-01T00:00:00.000Z')
  await engine.insert('AdminUser', admin.columns, [[1, 'admin', 'admin@example.com', HASH, 'en', new Date(now), new Date(now), null]])
  for (let start = 1; start <= rows; start += 10_000) {
    const batch = []
    for (let id = start; id < Math.min(start + 10_000, rows + 1); id++) batch.push([id, new Date(now + id), 'auth.login', id % 3 === 0 ? null : `{"ip":"192.0.2.${id % 250}","n":${id}}`, id % 2 === 0 ? 1 : null])
    await engine.insert('AuditLog', audit.columns, batch)
  }
  await engine.commit()
  await engine.close()
}

// BENCH_CHILD_FLAGS='--max-old-space-size=150': run the measured children under a smaller heap.
const childFlags = (process.env.BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean)

function child (what: 'backup' | 'restore' | 'verify', provider: Provider, url: string, file: string): { seconds: number, loadSeconds: number, peakMb: number, codes?: string[] } {
  const out = execFileSync(process.execPath, [...childFlags, '--import', 'tsx', new URL(import.meta.url).pathname, '--child', what, provider, url, file], { encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').at(-1)!)
}

/** The engine's own bulk load of the same rows from a CSV file, as the reference. */
async function bulkReference (provider: Provider, url: string): Promise<number | null> {
  const csv = path.join(work, 'audit.csv')
  const out = createWriteStream(csv)
  const now = Date.parse('2026-01-01T00:00:00.000Z')
  for (let id = 1; id <= rows; id++) {
    const detail = id % 3 === 0 ? '\\N' : `"{""ip"":""192.0.2.${id % 250}"",""n"":${id}}"`
    if (!out.write(`${id},${new Date(now + id).toISOString().replace('T', ' ').replace('Z', '')},auth.login,${detail},${id % 2 === 0 ? 1 : '\\N'}\n`)) await new Promise<void>(resolve => out.once('drain', () => resolve()))
  }
  await new Promise<void>(resolve => out.end(() => resolve()))
  await migrate({ provider, migrationsDir: referenceSchema.migrationsDir(provider), url })
  const started = process.hrtime.bigint()
  if (provider === 'postgresql') {
    execFileSync('psql', [url, '-q', '-c', `INSERT INTO "AdminUser" (id, username, email, "passwordHash", "updatedAt") VALUES (1, 'admin', 'a@example.com', 'h', now())`, '-c', `\\copy "AuditLog" (id, at, event, detail, "actorId") FROM '${csv}' WITH (FORMAT csv, NULL '\\N')`])
  } else if (provider === 'mysql') {
    const u = new URL(url)
    writeFileSync(path.join(work, 'load.sql'), `INSERT INTO AdminUser (id, username, email, passwordHash, updatedAt) VALUES (1, 'admin', 'a@example.com', 'h', NOW(3));\nLOAD DATA LOCAL INFILE '${csv}' INTO TABLE AuditLog FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (id, at, event, detail, actorId);\n`)
    execFileSync('sh', ['-c', `mariadb --local-infile=1 -h ${u.hostname} -u root ${u.pathname.slice(1)} < ${path.join(work, 'load.sql')}`])
  } else return null
  return Number(process.hrtime.bigint() - started) / 1e9
}

/**
 * From a real (empty) backup: 'line' keeps its manifest, then one data entry of `size` bytes (`fill` repeated, no
 * newline); 'bomb' keeps the whole archive and appends `size` zero bytes inside the gzip stream, after the tar's
 * end, where only the expansion caps can stop it.
 */
async function hostile (name: 'bomb' | 'line', size: number, fill: Buffer): Promise<string> {
  const url = await database('sqlite', `stress_${name}`)
  await migrate({ provider: 'sqlite', migrationsDir: referenceSchema.migrationsDir('sqlite'), url })
  const valid = path.join(work, `${name}-valid.tar.gz`)
  await createBackup(createWriteStream(valid), { schema: referenceSchema, provider: 'sqlite', url, tmpDir: work })
  const { gunzipSync } = await import('node:zlib')
  const tar = gunzipSync(readFileSync(valid))
  const manifestSize = parseInt(tar.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim(), 8)
  const manifest = tar.subarray(0, 512 + Math.ceil(manifestSize / 512) * 512)
  const file = path.join(work, `${name}.tar.gz`)
  await pipeline(Readable.from((async function * () {
    if (name === 'bomb') {
      yield tar
      const zeros = Buffer.alloc(1024 * 1024)
      for (let left = size; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left)
      return
    }
    yield manifest
    yield fileHeader('data/AdminUser.jsonl', size)
    const block = Buffer.alloc(1024 * 1024, fill)
    for (let left = size; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left)
    yield padding(size)
    yield END_OF_ARCHIVE
  })()), createGzip({ level: 9 }), createWriteStream(file))
  return file
}

const results: string[] = []
if (process.argv.includes('--stress')) {
  try {
    for (const [name, size, fill] of [['bomb', 600 * 1024 ** 2, Buffer.from(' ')], ['line', 300 * 1000 ** 2, Buffer.from('{"a":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')]] as Array<['bomb' | 'line', number, Buffer]>) {
      const file = await hostile(name, size, fill)
      const r = child('verify', 'sqlite', '', file)
      console.log(`${name.padEnd(5)} ${(size / 1024 ** 2).toFixed(0)} MiB expanded, ${((await stat(file)).size / 1024 ** 2).toFixed(1)} MiB file: refused ${r.codes?.join(',') || 'NOT REFUSED'} in ${r.seconds.toFixed(1)} s, peak RSS ${r.peakMb} MB (bound 200 MB)`)
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  process.exit(0)
}
try {
  for (const provider of engines) {
    const source = await database(provider, 'src')
    process.stderr.write(`${provider}: seeding ${rows} rows…\n`)
    await seed(provider, source)
    const file = path.join(work, `${provider}.tar.gz`)
    const backup = child('backup', provider, source, file)
    const size = (await stat(file)).size
    const target = await database(provider, 'dst')
    const restore = child('restore', provider, target, file)
    const total = rows + 1
    let line = `${provider.padEnd(10)} backup ${backup.seconds.toFixed(1)} s (${Math.round(total / backup.seconds)} rows/s, peak RSS ${backup.peakMb} MB, ${(size / 1048576).toFixed(1)} MB archive)` +
      ` | restore ${restore.seconds.toFixed(1)} s with migrations, load ${restore.loadSeconds.toFixed(1)} s (${Math.round(total / restore.loadSeconds)} rows/s, peak RSS ${restore.peakMb} MB)`
    const bulkTarget = provider === 'sqlite' ? null : await database(provider, 'bulk')
    const bulk = bulkTarget ? await bulkReference(provider, bulkTarget) : null
    if (bulk !== null) line += ` | bulk load ${bulk.toFixed(1)} s (${Math.round(total / bulk)} rows/s) → load/bulk ratio ${(restore.loadSeconds / bulk).toFixed(2)}x (whole restore/bulk ${(restore.seconds / bulk).toFixed(2)}x)`
    results.push(line)
    console.log(line)
  }
} finally {
  for (const cleanup of cleanups) await cleanup().catch(() => {})
  await rm(work, { recursive: true, force: true })
}
console.log(`\n${rows} AuditLog rows per engine (+1 AdminUser). Peak RSS: VmHWM of a fresh child process doing only the backup or the restore (not getrusage maxrss, which Linux carries over from the parent across fork and exec).`)
process.exit(0)
