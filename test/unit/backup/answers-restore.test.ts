// The answers file's restore and admin members: a backup to upload or a server path, and keeping the restored
// accounts (which needs a backup, and signs in with a restored account instead of creating one).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AnswersError, parseAnswers } from '../../../server/replay/answers.ts'

const base = {
  version: 1,
  language: 'en',
  database: { provider: 'sqlite', file: 'data/app.db' },
  cache: { backend: 'memory' }
}

function problems (value: unknown): string[] {
  try {
    parseAnswers(JSON.stringify(value), {})
  } catch (error) {
    if (error instanceof AnswersError) return error.problems.map(p => `${p.path}: ${p.message}`)
    throw error
  }
  return []
}

test('restore.file and admin.keepRestored are accepted; email is not needed to keep the restored accounts', () => {
  const answers = parseAnswers(JSON.stringify({ ...base, restore: { file: 'old.tar.gz' }, admin: { keepRestored: true, username: 'alice', password: 'x' } }), {})
  assert.deepEqual(answers.restore, { file: 'old.tar.gz' })
  assert.equal(answers.admin.keepRestored, true)
  assert.deepEqual(problems({ ...base, restore: { path: '/srv/backups/old.tar.gz' }, admin: { username: 'alice', email: 'a@example.com', password: 'x' } }), [])
  assert.deepEqual(problems({ ...base, restore: null, admin: { username: 'alice', email: 'a@example.com', password: 'x', keepRestored: false } }), [])
})

test('bad restore and admin answers are reported with their JSON path', () => {
  assert.ok(problems({ ...base, restore: { file: '' }, admin: { username: 'alice', email: 'a@example.com', password: 'x' } }).some(p => p.startsWith('$.restore')))
  assert.ok(problems({ ...base, restore: { file: 'a', url: 'b' }, admin: { username: 'alice', email: 'a@example.com', password: 'x' } }).some(p => p.startsWith('$.restore')))
  assert.ok(problems({ ...base, restore: 'old.tar.gz', admin: { username: 'alice', email: 'a@example.com', password: 'x' } }).some(p => p.startsWith('$.restore')))
  // Adding an administrator needs the email.
  assert.ok(problems({ ...base, restore: { file: 'a.tar.gz' }, admin: { username: 'alice', password: 'x' } }).includes("$.admin: must have required property 'email'"))
  // Keeping restored accounts without a backup is refused before any browser starts.
  assert.deepEqual(problems({ ...base, admin: { keepRestored: true, username: 'alice', password: 'x' } }), ['$.admin.keepRestored: needs a backup to restore ("restore": { "file": … })'])
  assert.ok(problems({ ...base, restore: { file: 'a.tar.gz' }, admin: { keepRestored: 'yes', username: 'alice', password: 'x' } }).some(p => p.startsWith('$.admin.keepRestored')))
})
