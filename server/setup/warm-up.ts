// Setup mode's idle time, put to use: while no setup request is being answered (a person reads a page, a browser
// starts), what the wizard's next pages are about to load anyway is loaded ahead, one small item at a time, so
// that a page does not wait for its first use. Only what the session in progress will need next is warmed:
// a server nobody has opened keeps its cold-start footprint, and nothing is loaded that the wizard would not
// have loaded a few pages later. Nothing here changes an answer: an item that fails is forgotten, and the
// request that needs it meets (and reports) the same failure.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { preparePasswordCheck } from '../auth/password.ts'
import { preloadClient } from '../db/client.ts'
import { sqliteDriverVersion } from '../db/engines/sqlite.ts'

/** Quiet time after the last setup response before an item starts: a page's own follow-up requests come first. */
export const WARM_UP_IDLE_MS = 50

export interface WarmUpItem {
  /** what it warms, once per process (an item already queued or done is not queued again) */
  name: string
  run: () => unknown
}

export interface WarmUpOptions {
  /** one function per route validator, compiling it if its route has not yet (the router compiles them lazily) */
  validators: ReadonlyArray<() => void>
  idleMs?: number
}

export interface WarmUp {
  /** queues an item; it runs once the server is idle */
  add: (item: WarmUpItem) => void
  /** resolves once nothing is queued or running (tests) */
  settled: () => Promise<void>
  /** the names of the items run so far, in order (tests) */
  done: string[]
}

/**
 * Warms setup mode in the background of `app` (the setup routes' plugin): after each setup response, the items
 * the session's progress calls for are queued (below), and run one at a time while no setup request is in
 * flight, with a turn of the event loop between two. A request that comes meanwhile waits at most for the item
 * being run (a validator's compile: a few ms; a module's load yields between its files). Stops when the wizard
 * is done (normal mode) or the app closes.
 */
export function startWarmUp (app: FastifyInstance, opts: WarmUpOptions): WarmUp {
  const idleMs = opts.idleMs ?? WARM_UP_IDLE_MS
  const queue: WarmUpItem[] = []
  const known = new Set<string>()
  const done: string[] = []
  let inFlight = 0
  let lastActivity = 0
  let running = false
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const idle: Array<() => void> = []

  const over = () => stopped || app.amorce.mode !== 'setup'
  const add = (item: WarmUpItem) => {
    if (known.has(item.name)) return
    known.add(item.name)
    queue.push(item)
  }
  const drop = (name: string) => {
    const i = queue.findIndex(item => item.name === name)
    if (i >= 0) queue.splice(i, 1)
  }
  const settle = () => {
    if (running || (queue.length > 0 && !over())) return
    for (const resolve of idle.splice(0)) resolve()
  }

  function schedule (): void {
    if (running || timer || queue.length === 0 || over()) return settle()
    const wait = inFlight > 0 ? idleMs : Math.max(0, lastActivity + idleMs - performance.now())
    timer = setTimeout(pump, wait)
    // Never what keeps the process alive, unless someone waits for the queue to settle.
    if (idle.length === 0) timer.unref()
  }
  async function pump (): Promise<void> {
    timer = undefined
    if (over()) { queue.length = 0; return settle() }
    if (inFlight > 0 || performance.now() - lastActivity < idleMs) return schedule()
    const item = queue.shift()
    if (!item) return settle()
    running = true
    const started = performance.now()
    try {
      await item.run()
      app.log.debug({ item: item.name, ms: Math.round(performance.now() - started) }, 'setup warm-up')
    } catch (err) {
      app.log.debug({ item: item.name, err: (err as Error).message }, 'setup warm-up item failed')
    }
    done.push(item.name)
    running = false
    // A turn of the event loop between two items: a request that came in is read first.
    setImmediate(schedule)
  }

  app.addHook('onRequest', async () => {
    inFlight++
  })
  app.addHook('onResponse', async req => {
    inFlight = Math.max(0, inFlight - 1)
    lastActivity = performance.now()
    // The administrator answered (the step released the checker): a start still queued would load it again.
    if ((req as Partial<Pick<FastifyRequest, 'session'>>).session?.wizard?.answers.admin) drop('password check')
    for (const item of nextNeeds(app, req, opts)) add(item)
    schedule()
  })
  app.addHook('onClose', async () => {
    stopped = true
    clearTimeout(timer)
    timer = undefined
    queue.length = 0
    settle()
  })

  return {
    add: item => { add(item); schedule() },
    settled: () => new Promise(resolve => { idle.push(resolve); timer?.ref(); settle() }),
    done
  }
}

/**
 * What the session's next pages load on first use, by how far it has come:
 * - the wizard opened (any setup page answered): the route validators, compiled by each route's first request;
 * - the token accepted: the prerequisites page's SQLite check (the libsql driver and its native addon, some
 *   20 MB, which that page loads anyway two pages later);
 * - the prerequisites passed (the wizard goes on): the password checker's worker, which loads its dictionaries
 *   (some 70 MB, 1-2 s of CPU in its own thread) for the administrator's page four pages later; started there
 *   otherwise (or on the cache page), it made that page's Next wait. Released after the administrator step, or
 *   after two idle minutes (auth/password.ts), as before;
 * - the database chosen: the generated Prisma client and driver adapter of its engine (the install opens it)
 *   and argon2's native module (the administrator's password is hashed with it).
 */
function nextNeeds (app: FastifyInstance, req: FastifyRequest, opts: WarmUpOptions): WarmUpItem[] {
  // One item per validator: each is a few ms of compiling, and a request can come between two.
  const items: WarmUpItem[] = opts.validators.map((compile, i) => ({ name: `validator ${i}`, run: compile }))
  const session = (req as Partial<Pick<FastifyRequest, 'session'>>).session
  if (!session?.setupAuthorized) return items
  items.push({ name: 'sqlite driver', run: () => sqliteDriverVersion() })
  const wizard = session.wizard
  // Not once the administrator is answered: the step has released the checker, which is not needed again.
  if (wizard?.done.includes('prerequisites') && !wizard.answers.admin) items.push({ name: 'password check', run: () => preparePasswordCheck() })
  const provider = wizard?.answers.database?.provider
  if (provider) {
    items.push({ name: `prisma client ${provider}`, run: () => preloadClient(app.amorce.definition.schema, provider) })
    items.push({ name: 'argon2', run: () => import('@node-rs/argon2') })
  }
  return items
}
