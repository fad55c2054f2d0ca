// The reference app's AdminStore (server/definition.ts): its administrators live in its AdminUser table.
// Amorce reaches that table only through this object, as it reaches a host's users table through the host's.
import type { AdminStore } from '../index.ts'

/** The part of the reference app's Prisma client (or of a transaction on it) this store uses. */
interface AdminUserDb {
  adminUser: {
    upsert(args: { where: { username: string }, create: Record<string, unknown>, update: Record<string, unknown> }): Promise<{ id: number, username: string, email: string, passwordHash: string }>
    findFirst(args: { where: { OR: Array<{ username: string } | { email: string }> } }): Promise<{ id: number, username: string, email: string, passwordHash: string } | null>
    update(args: { where: { id: number }, data: { passwordHash: string } }): Promise<unknown>
    findMany(args: { select: { username: true, email: true }, orderBy: { id: 'asc' } }): Promise<Array<{ username: string, email: string }>>
  }
}

export const adminStore: AdminStore<AdminUserDb> = {
  // An upsert by username: resuming an interrupted install with the same answers updates the same row.
  async create (db, admin) {
    const { username, email, passwordHash, locale } = admin
    return db.adminUser.upsert({ where: { username }, create: { username, email, passwordHash, locale }, update: { email, passwordHash, locale } })
  },
  find: (db, login) => db.adminUser.findFirst({ where: { OR: [{ username: login }, { email: login }] } }),
  async setPassword (db, id, passwordHash) { await db.adminUser.update({ where: { id: Number(id) }, data: { passwordHash } }) },
  list: db => db.adminUser.findMany({ select: { username: true, email: true }, orderBy: { id: 'asc' } }),
  table: { name: 'AdminUser', username: 'username', email: 'email' }
}
