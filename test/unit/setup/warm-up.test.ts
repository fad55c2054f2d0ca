// The setup warm-up: items run only while no setup request is in flight, one at a time, each once; nothing runs
// for a session that has not entered the token; it stops once the wizard is done (normal mode).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance } from 'fastify'
import { startWarmUp, type WarmUp } from '../../../server/setup/warm-up.ts'

/** A bare Fastify with the warm-up in a plugin and a route whose answer the test releases. */
async function build (t: import('node:test').TestContext, validators: Array<() => void> = []) {
  const app = Fastify()
  const state = { mode: 'setup' }
  app.decorate('amorce', state as unknown as FastifyInstance['amorce'])
  let warm!: WarmUp
  let release: () => void = () => {}
  let entered: () => void = () => {}
  const inHandler = new Promise<void>(resolve => { entered = resolve })
  await app.register(async scope => {
    warm = startWarmUp(scope, { validators, idleMs: 5 })
    scope.get('/quick', async () => 'ok')
    scope.get('/slow', async () => {
      await new Promise<void>(resolve => { release = resolve; entered() })
      return 'ok'
    })
  })
  await app.ready()
  t.after(() => app.close())
  return { app, state, warm: () => warm, release: () => release(), inHandler }
}

test('after a setup page is answered, each route validator is compiled once, and nothing a token would unlock', async t => {
  const compiled: number[] = []
  const { app, warm } = await build(t, [() => compiled.push(0), () => compiled.push(1)])
  await app.inject('/quick')
  await warm().settled()
  await app.inject('/quick')
  await warm().settled()
  assert.deepEqual(compiled, [0, 1])
  // No session entered the token: the SQLite driver, the Prisma client and the password checker are not loaded.
  assert.deepEqual(warm().done, ['validator 0', 'validator 1'])
})

test('an item waits while a setup request is in flight, and runs once it is answered', async t => {
  const { app, warm, release, inHandler } = await build(t)
  await app.inject('/quick')
  const slow = app.inject('/slow')
  await inHandler
  let ran = false
  warm().add({ name: 'item', run: () => { ran = true } })
  // Ten times the idle delay with the request held: the item must not have run (a window that can only make
  // this pass wrongly under load, never fail wrongly).
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(ran, false, 'the item ran while a request was in flight')
  release()
  await slow
  await warm().settled()
  assert.equal(ran, true)
})

test('once the wizard is done (normal mode), queued items are dropped', async t => {
  const { app, state, warm } = await build(t)
  await app.inject('/quick')
  state.mode = 'normal'
  let ran = false
  warm().add({ name: 'item', run: () => { ran = true } })
  await warm().settled()
  assert.equal(ran, false)
})
