// Navigation is derived from the one ordered step list.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRegistry, newWizardData } from '../../../server/setup/registry.ts'

const registry = createRegistry()
import { formInput } from '../../../server/setup/routes.ts'

test('the seven steps in the documented order', () => {
  assert.deepEqual(registry.steps.map(s => s.id), ['language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize'])
})

test('next, previous and the first incomplete step come from the list', () => {
  const data = newWizardData()
  assert.equal(registry.firstIncomplete(data).id, 'language')
  assert.equal(registry.next('database')?.id, 'cache')
  assert.equal(registry.previous('database')?.id, 'prerequisites')
  assert.equal(registry.previous('language'), undefined)
  registry.markDone(data, 'language')
  registry.markDone(data, 'prerequisites')
  registry.markDone(data, 'prerequisites')
  assert.deepEqual(data.done, ['language', 'prerequisites'])
  assert.equal(registry.firstIncomplete(data).id, 'database')
  assert.ok(registry.isReachable('database', data))
  assert.ok(!registry.isReachable('cache', data))
  const s = registry.stepper('database', data)
  assert.deepEqual(s.map(x => x.state), ['done', 'done', 'current', 'todo', 'todo', 'todo', 'todo'])
})

test('form input keeps only strings, the first of repeated fields, and bounds lengths', () => {
  const input = formInput({ a: 'x', b: ['first', 'second'], c: { nested: 1 }, d: 5, ['k'.repeat(100)]: 'long key', e: 'y'.repeat(10_000) })
  assert.deepEqual(Object.keys(input).sort(), ['a', 'b', 'e'])
  assert.equal(input.b, 'first')
  assert.equal(input.e.length, 4096)
  assert.deepEqual(formInput(null), {})
  assert.deepEqual(formInput('text'), {})
})
