// Tests a SQLite file location before the wizard commits to it: the directory can be created and
// written, the file is a SQLite database (or can be created), and it is not another app's database.
import { constants } from 'node:fs'
import { access, mkdir, open, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { fsCause } from '../i18n.ts'

export type SqliteProbeResult =
  | { ok: true, state: 'new' | 'empty' | 'ours', file: string, migrations?: number }
  | { ok: false, reason: 'notAbsolute' | 'isDirectory' | 'notRegularFile' | 'dirNotWritable' | 'notSqlite' | 'foreignTables' | 'unreadable', file: string, detail?: string }

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

export async function probeSqliteFile (file: string): Promise<SqliteProbeResult> {
  if (!path.isAbsolute(file)) return { ok: false, reason: 'notAbsolute', file }
  const dir = path.dirname(file)
  const existing = await stat(file).catch(() => null)
  if (existing?.isDirectory()) return { ok: false, reason: 'isDirectory', file }
  // A device, a FIFO or a socket "exists and is empty": SQLite would fail on it at install time.
  if (existing && !existing.isFile()) return { ok: false, reason: 'notRegularFile', file }

  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.W_OK)
    // Really create a file beside it: access() alone says yes on read-only mounts.
    const probe = path.join(dir, `.amorce-probe-${process.pid}-${Date.now()}`)
    await (await open(probe, 'wx', 0o600)).close()
    await rm(probe)
  } catch (err) {
    return { ok: false, reason: 'dirNotWritable', file, detail: fsCause((err as NodeJS.ErrnoException).code) }
  }
  if (!existing || existing.size === 0) return { ok: true, state: 'new', file }

  const head = Buffer.alloc(16)
  const fh = await open(file, 'r')
  try { await fh.read(head, 0, 16, 0) } finally { await fh.close() }
  if (!head.equals(SQLITE_MAGIC)) return { ok: false, reason: 'notSqlite', file }

  // libsql (a native module) is loaded when a SQLite file is first probed, not at every start.
  const { createClient } = await import('@libsql/client')
  const client = createClient({ url: `file:${file}` })
  try {
    const rs = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    const tables = rs.rows.map(r => String(r.name))
    if (tables.length === 0) return { ok: true, state: 'empty', file }
    if (tables.includes('_prisma_migrations') && tables.includes('AdminUser')) {
      const n = await client.execute('SELECT COUNT(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL')
      return { ok: true, state: 'ours', file, migrations: Number(n.rows[0].n) }
    }
    return { ok: false, reason: 'foreignTables', file, detail: tables.slice(0, 5).join(', ') }
  } catch (err) {
    return { ok: false, reason: 'unreadable', file, detail: (err as Error).message }
  } finally {
    client.close()
  }
}

/** The version of the SQLite library the driver embeds; throws when the driver cannot load. */
export async function sqliteDriverVersion (): Promise<string> {
  const { createClient } = await import('@libsql/client')
  const client = createClient({ url: ':memory:' })
  try {
    const rs = await client.execute('SELECT sqlite_version() AS v')
    return String(rs.rows[0].v)
  } finally {
    client.close()
  }
}
