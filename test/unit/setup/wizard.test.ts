// Navigation is derived from the one ordered step list.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { STEPS, firstIncompleteStep, isReachable, markDone, newWizardData, nextStep, previousStep, stepper } from '../../../server/setup/wizard.ts'
import { formInput } from '../../../server/setup/routes.ts'

test('the seven steps in the documented order', () => {
  assert.deepEqual(STEPS.map(s => s.id), ['language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'finalize'])
})

test('next, previous and the first incomplete step come from the list', () => {
  const data = newWizardData()
  assert.equal(firstIncompleteStep(data).id, 'language')
  assert.equal(nextStep('database')?.id, 'cache')
  assert.equal(previousStep('database')?.id, 'prerequisites')
  assert.equal(previousStep('language'), undefined)
  markDone(data, 'language')
  markDone(data, 'prerequisites')
  markDone(data, 'prerequisites')
  assert.deepEqual(data.done, ['language', 'prerequisites'])
  assert.equal(firstIncompleteStep(data).id, 'database')
  assert.ok(isReachable('database', data))
  assert.ok(!isReachable('cache', data))
  const s = stepper('database', data)
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
