// Where Notes keeps its administrators: its own User table, with the role ADMIN. Amorce creates the first one
// through `create` (the wizard's admin step), finds it for `amorce admin reset-password`, and lists them after a restore.
import type { AdminRecord, AdminStore } from 'amorce'
import type { PrismaClient } from './generated/sqlite/client.ts'

const toRecord = (u: { id: number, username: string, email: string, passwordHash: string }): AdminRecord =>
  ({ id: u.id, username: u.username, email: u.email, passwordHash: u.passwordHash })

export const notesAdminStore: AdminStore<PrismaClient> = {
  // An upsert by username, as Amorce asks: a resumed install writes the same administrator again.
  async create (db, admin) {
    const data = { email: admin.email, passwordHash: admin.passwordHash, locale: admin.locale, role: 'ADMIN' as const }
    return toRecord(await db.user.upsert({ where: { username: admin.username }, create: { username: admin.username, ...data }, update: data }))
  },
  async find (db, login) {
    const user = await db.user.findFirst({ where: { role: 'ADMIN', OR: [{ username: login }, { email: login }] } })
    return user ? toRecord(user) : null
  },
  async setPassword (db, id, passwordHash) {
    await db.user.update({ where: { id: Number(id) }, data: { passwordHash } })
  },
  async list (db) {
    return db.user.findMany({ where: { role: 'ADMIN' }, select: { username: true, email: true }, orderBy: { id: 'asc' } })
  },
  table: { name: 'User', username: 'username', email: 'email' }
}
