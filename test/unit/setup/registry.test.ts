// The registry is the one place steps are listed: ids, order, stages and the answers schema derive from it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { answersSchema, createRegistry, defaultSteps, defineStep } from '../../../server/setup/registry.ts'
import { schema } from '../../../server/replay/answers.ts'

const extra = defineStep({
  id: 'extra',
  fields: { label: { schema: { type: 'string', maxLength: 20 } }, secret: { schema: { type: 'string' }, secret: true } },
  values: () => ({}),
  async submit () { return {} },
  stages: [{ id: 'extra', async run () {} }, { id: 'early', before: 'migrate', async run () {} }]
})

test('the committed answers.schema.json (for editors) is exactly the schema generated from the default steps', () => {
  const committed = JSON.parse(readFileSync(new URL('../../../server/replay/answers.schema.json', import.meta.url), 'utf8'))
  assert.deepEqual(committed, schema)
  assert.deepEqual(schema, answersSchema(createRegistry(defaultSteps)))
})

test('a host step after the defaults comes before the summary, and its stage before the lock; "before" stages keep the registry order', () => {
  const registry = createRegistry([...defaultSteps, extra])
  assert.deepEqual(registry.steps.map(s => s.id), ['language', 'prerequisites', 'database', 'cache', 'restore', 'admin', 'extra', 'finalize'])
  assert.deepEqual(registry.stages.map(s => s.id), ['early', 'env', 'migrate', 'restore', 'admin', 'extra', 'lock', 'switch'])
  assert.equal(registry.isSecret(extra, 'secret'), true)
  assert.equal(registry.isSecret(extra, 'label'), false)
  assert.equal(registry.template(extra), 'setup/extra')
  assert.equal(registry.namespace(extra), 'setup.extra')
})

test('the answers schema has a section per step with answers, derived from the fields when the step gives none', () => {
  const generated = answersSchema(createRegistry([...defaultSteps, extra])) as { properties: Record<string, unknown>, required: string[] }
  assert.deepEqual(generated.properties.extra, { type: 'object', additionalProperties: false, properties: { label: { type: 'string', maxLength: 20 }, secret: { type: 'string' } } })
  assert.deepEqual(generated.required, ['version', 'language', 'database', 'cache', 'admin'])
  assert.equal(generated.properties.prerequisites, undefined, 'a step without fields has no section')
})

test('ids are URL segments given once; a stage placed before an unknown stage is refused', () => {
  assert.throws(() => createRegistry([...defaultSteps, { ...extra, id: 'Bad/Id' }]), /lowercase letters/)
  assert.throws(() => createRegistry([...defaultSteps, { ...extra, id: 'admin' }]), /given twice/)
  assert.throws(() => createRegistry([extra]), /before "migrate", which no step contributes/)
  assert.throws(() => createRegistry([...defaultSteps, extra, { ...extra, id: 'extra2' }]), /stage id "(early|extra)" is contributed twice/)
})
