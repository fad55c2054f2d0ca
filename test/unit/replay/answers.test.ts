// The answers file documented in the README (docs/answers.example.json) is valid as shipped, and
// its ${ADMIN_PASSWORD} comes from the environment or is reported by JSON path.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { AnswersError, parseAnswers } from '../../../server/replay/answers.ts'

const example = readFileSync(new URL('../../../docs/answers.example.json', import.meta.url), 'utf8')

test('docs/answers.example.json is a valid answers file once ADMIN_PASSWORD is set', () => {
  const answers = parseAnswers(example, { ADMIN_PASSWORD: 'from the environment' })
  assert.equal(answers.version, 1)
  assert.equal(answers.admin.password, 'from the environment')
})

test('without ADMIN_PASSWORD the example is refused, naming $.admin.password', () => {
  assert.throws(() => parseAnswers(example, {}), (err: unknown) =>
    err instanceof AnswersError && err.problems.some(p => p.path === '$.admin.password' && /ADMIN_PASSWORD is not set/.test(p.message)))
})
