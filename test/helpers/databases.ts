// Throwaway PostgreSQL and MySQL/MariaDB databases and roles for tests, dropped when the test ends.
// Servers come from TEST_POSTGRES_URL / TEST_MYSQL_URL (an account allowed to create databases and roles),
// defaulting to the local services; unreachable servers skip loudly, or fail under CI=true (requireService).
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import pg from 'pg'
import mariadb from 'mariadb'
import { type ServerConnection, type ServerProvider } from '../../server/db/url.ts'
import { requireService } from './services.ts'
import { buildDatabaseUrl, parseDatabaseUrl } from '../../server/db/engines/index.ts'

export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL || 'postgresql://postgres@127.0.0.1:5432/postgres'
export const MYSQL_ADMIN_URL = process.env.TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306/mysql'

export function adminUrl (provider: ServerProvider): string {
  return provider === 'postgresql' ? POSTGRES_ADMIN_URL : MYSQL_ADMIN_URL
}

export function adminConnection (provider: ServerProvider): ServerConnection {
  return parseDatabaseUrl(adminUrl(provider))
}

/** Runs statements as the server's administrator (on `database`, else the admin URL's). */
export async function adminQuery (provider: ServerProvider, sql: string | string[], database?: string): Promise<unknown[]> {
  const c = adminConnection(provider)
  const statements = Array.isArray(sql) ? sql : [sql]
  const results: unknown[] = []
  if (provider === 'postgresql') {
    const client = new pg.Client({ host: c.host, port: c.port, user: c.user, password: c.password, database: database ?? c.database, connectionTimeoutMillis: 3000 })
    await client.connect()
    try {
      for (const s of statements) results.push((await client.query(s)).rows)
    } finally {
      await client.end()
    }
  } else {
    const conn = await mariadb.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, database: database ?? c.database, connectTimeout: 3000 })
    try {
      for (const s of statements) results.push(await conn.query(s))
    } finally {
      await conn.end()
    }
  }
  return results
}

const reachable = new Map<ServerProvider, Promise<boolean>>()

export function serverReachable (provider: ServerProvider): Promise<boolean> {
  if (!reachable.has(provider)) reachable.set(provider, adminQuery(provider, 'SELECT 1').then(() => true, () => false))
  return reachable.get(provider)!
}

const LABELS: Record<ServerProvider, [string, string]> = {
  postgresql: ['PostgreSQL', 'start PostgreSQL on 127.0.0.1:5432 (user postgres, trust), or set TEST_POSTGRES_URL'],
  mysql: ['MySQL/MariaDB', 'start MariaDB on 127.0.0.1:3306 (root, empty password), or set TEST_MYSQL_URL']
}

/** requireService for a database server: false (test skipped) when it is unreachable outside CI. */
export async function requireServer (t: TestContext, provider: ServerProvider): Promise<boolean> {
  const [name, how] = LABELS[provider]
  return requireService(t, name, await serverReachable(provider), how)
}

export function uniqueName (prefix = 'amorce_t'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`
}

/** Drops a database the test made (PostgreSQL: even with connections left open). */
export async function dropDatabase (provider: ServerProvider, name: string): Promise<void> {
  await adminQuery(provider, provider === 'postgresql' ? `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)` : `DROP DATABASE IF EXISTS \`${name}\``)
}

/** Drops a database the test will make (e.g. the wizard's "Create it"), whether or not it was made. */
export function dropAfter (t: TestContext, provider: ServerProvider, name: string): void {
  t.after(() => dropDatabase(provider, name))
}

/** A new empty database, dropped after the test; its connection settings use the admin account. */
export async function createDatabase (t: TestContext, provider: ServerProvider): Promise<ServerConnection> {
  const name = uniqueName()
  await adminQuery(provider, provider === 'postgresql' ? `CREATE DATABASE "${name}"` : `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  dropAfter(t, provider, name)
  return { ...adminConnection(provider), database: name, tls: 'off', caFile: '' }
}

export function urlOf (connection: ServerConnection): string {
  return buildDatabaseUrl(connection)
}

export interface RoleOptions {
  /** PostgreSQL: CREATEDB; MySQL: CREATE on every database (so it may create its own). */
  createdb?: boolean
  /** Databases on which the role gets every privilege. */
  allOn?: string[]
  /** MySQL: exact privileges granted on a database, e.g. { db: 'x', privileges: 'SELECT, INSERT, CREATE' }. */
  grants?: Array<{ database: string, privileges: string }>
}

/** A login role with a password full of URL-special characters, dropped after the test. */
export async function createRole (t: TestContext, provider: ServerProvider, options: RoleOptions = {}): Promise<{ user: string, password: string }> {
  const user = uniqueName('amorce_r')
  const password = `p@ss:w/rd?#%&=${randomBytes(4).toString('hex')}`
  const sqlPassword = password.replaceAll("'", "''")
  if (provider === 'postgresql') {
    await adminQuery(provider, `CREATE ROLE "${user}" LOGIN PASSWORD '${sqlPassword}'${options.createdb ? ' CREATEDB' : ''}`)
    for (const db of options.allOn ?? []) {
      await adminQuery(provider, `GRANT ALL ON DATABASE "${db}" TO "${user}"`)
      await adminQuery(provider, `GRANT ALL ON SCHEMA public TO "${user}"`, db)
    }
    t.after(async () => {
      // Objects the role created in databases that outlive it would block DROP ROLE.
      await adminQuery(provider, `DROP ROLE IF EXISTS "${user}"`).catch(async () => {
        await new Promise(resolve => setTimeout(resolve, 200))
        await adminQuery(provider, `DROP ROLE IF EXISTS "${user}"`).catch(() => {})
      })
    })
  } else {
    const statements = [`CREATE USER '${user}'@'%' IDENTIFIED BY '${sqlPassword}'`]
    if (options.createdb) statements.push(`GRANT CREATE ON *.* TO '${user}'@'%'`)
    for (const db of options.allOn ?? []) statements.push(`GRANT ALL PRIVILEGES ON \`${db}\`.* TO '${user}'@'%'`)
    for (const g of options.grants ?? []) statements.push(`GRANT ${g.privileges} ON \`${g.database}\`.* TO '${user}'@'%'`)
    await adminQuery(provider, statements)
    t.after(() => adminQuery(provider, `DROP USER IF EXISTS '${user}'@'%'`).then(() => {}, () => {}))
  }
  return { user, password }
}
