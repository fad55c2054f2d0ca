// Notes' normal mode, a plain Fastify plugin: sign in (the administrator the wizard created in the User table),
// the list of notes with their tags, and a form to write one. Amorce registers it and serves it once installed,
// giving it the database client (`fastify.amorce.db`), the cache, the configuration, the logger, sessions, CSRF
// protection and its pages (`reply.page`, with `t` in the visitor's language).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { formInput, verifyPassword } from 'amorce'
import type { PrismaClient } from '../generated/sqlite/client.ts'
import { SITE_SETTINGS } from '../steps/site.ts'

type Errors = Record<string, { key: string, params?: Record<string, unknown> }>
interface Page { page(template: string, model?: Record<string, unknown>, status?: number): Promise<FastifyReply> }
interface Session { userId?: number, regenerate(): Promise<void>, destroy(): Promise<void> }

export const TITLE_MAX = 191
export const BODY_MAX = 191
export const TAG_MAX = 40
export const TAGS_MAX = 10

/** The tags typed as "work, ideas": trimmed, lower-cased, each once. */
export function parseTags (text: string): string[] {
  return [...new Set(text.split(',').map(t => t.trim().normalize('NFC').toLowerCase()).filter(Boolean))]
}

export default async function notesApp (app: FastifyInstance): Promise<void> {
  const amorce = (app as unknown as { amorce: { db: unknown, config: { basePath: string } } }).amorce
  const db = () => amorce.db as PrismaClient
  const base = () => amorce.config.basePath
  const session = (req: FastifyRequest) => (req as unknown as { session: Session }).session
  const page = (reply: FastifyReply) => reply as unknown as Page

  async function site () {
    const rows = await db().setting.findMany({ where: { key: { in: Object.values(SITE_SETTINGS) } } })
    const value = (key: string) => rows.find(r => r.key === key)?.value
    return { name: value(SITE_SETTINGS.name) ?? 'Notes', timezone: value(SITE_SETTINGS.timezone) ?? 'UTC' }
  }

  async function signedIn (req: FastifyRequest) {
    const id = session(req).userId
    return id === undefined ? null : db().user.findUnique({ where: { id } })
  }

  app.get('/', async (req, reply) => reply.redirect(`${base()}${session(req).userId ? '/notes' : '/login'}`, 303))

  app.get('/login', async (req, reply) => {
    if (await signedIn(req)) return reply.redirect(`${base()}/notes`, 303)
    return page(reply).page('notes/login', { site: await site(), values: { login: '' }, errors: {} })
  })

  app.post('/login', async (req, reply) => {
    const input = formInput(req.body)
    const login = (input.login ?? '').trim().normalize('NFC')
    const user = login === '' ? null : await db().user.findFirst({ where: { OR: [{ username: login }, { email: login }] } })
    // verifyPassword on a missing user too would be kinder to timing; Notes only has its administrators.
    if (!user || !await verifyPassword(user.passwordHash, input.password ?? '')) {
      req.log.info({ login }, 'failed sign-in')
      return page(reply).page('notes/login', { site: await site(), values: { login }, errors: { _form: { key: 'notes.login.invalid' } } }, 401)
    }
    await session(req).regenerate()
    session(req).userId = user.id
    await db().auditLog.create({ data: { event: 'auth.login', detail: user.username } })
    return reply.redirect(`${base()}/notes`, 303)
  })

  app.post('/logout', async (req, reply) => {
    await session(req).destroy()
    return reply.redirect(`${base()}/login`, 303)
  })

  async function list (req: FastifyRequest, reply: FastifyReply, values: Record<string, string>, errors: Errors, status = 200) {
    const user = await signedIn(req)
    if (!user) return reply.redirect(`${base()}/login`, 303)
    const current = await site()
    const format = new Intl.DateTimeFormat(req.lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: current.timezone })
    // Hours as the reader writes numbers (1,5 in French); the Decimal's exact digits, at most two decimals.
    const number = new Intl.NumberFormat(req.lang, { maximumFractionDigits: 2 })
    const notes = await db().note.findMany({ include: { tags: { orderBy: { name: 'asc' } }, author: true }, orderBy: { id: 'desc' } })
    return page(reply).page('notes/list', {
      site: current,
      user: { username: user.username, role: user.role },
      notes: notes.map(n => ({ id: n.id, title: n.title, body: n.body, author: n.author.username, at: format.format(n.createdAt), hours: n.hours === null ? '' : number.format(Number(n.hours.toString())), tags: n.tags.map(t => t.name) })),
      values,
      errors
    }, status)
  }

  app.get('/notes', async (req, reply) => list(req, reply, { title: '', body: '', tags: '', hours: '' }, {}))

  app.post('/notes', async (req, reply) => {
    const user = await signedIn(req)
    if (!user) return reply.redirect(`${base()}/login`, 303)
    const input = formInput(req.body)
    const values = { title: (input.title ?? '').trim().normalize('NFC'), body: (input.body ?? '').trim().normalize('NFC'), tags: input.tags ?? '', hours: (input.hours ?? '').trim() }
    const tags = parseTags(values.tags)
    const errors: Errors = {}
    if (values.title === '') errors.title = { key: 'notes.errors.titleRequired' }
    else if ([...values.title].length > TITLE_MAX) errors.title = { key: 'notes.errors.tooLong', params: { max: TITLE_MAX } }
    if ([...values.body].length > BODY_MAX) errors.body = { key: 'notes.errors.tooLong', params: { max: BODY_MAX } }
    if (tags.length > TAGS_MAX) errors.tags = { key: 'notes.errors.tooManyTags', params: { max: TAGS_MAX } }
    else if (tags.some(t => [...t].length > TAG_MAX)) errors.tags = { key: 'notes.errors.tagTooLong', params: { max: TAG_MAX } }
    if (values.hours !== '' && !/^\d{1,4}([.,]\d{1,2})?$/.test(values.hours)) errors.hours = { key: 'notes.errors.hours' }
    if (Object.keys(errors).length > 0) return list(req, reply, values, errors, 422)
    await db().note.create({
      data: {
        title: values.title,
        body: values.body,
        hours: values.hours === '' ? null : values.hours.replace(',', '.'),
        meta: { lang: req.lang, tagCount: tags.length },
        author: { connect: { id: user.id } },
        tags: { connectOrCreate: tags.map(name => ({ where: { name }, create: { name } })) }
      }
    })
    return reply.redirect(`${base()}/notes`, 303)
  })
}
