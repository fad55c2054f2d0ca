// The setup token itself: size, private file, expiry and renewal at start, and the wrong-token limiter.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat, utimes } from 'node:fs/promises'
import path from 'node:path'
import { ensureSetupToken, FailureLimiter, newSetupToken, tokenMatches } from '../../../server/setup/token.ts'
import { build, tempDir } from '../../helpers/app.ts'

test('tokens carry 192 random bits and match only exactly (surrounding spaces aside)', () => {
  const seen = new Set(Array.from({ length: 1000 }, newSetupToken))
  assert.equal(seen.size, 1000)
  const token = newSetupToken()
  assert.equal(Buffer.from(token, 'base64url').length, 24)
  assert.ok(tokenMatches(token, token))
  assert.ok(tokenMatches(` ${token}\n`, token))
  for (const wrong of [token.slice(1), token + 'a', token.toUpperCase(), '', 'x'.repeat(201), undefined, 42, [token]]) assert.ok(!tokenMatches(wrong, token))
})

test('the token is reused within its lifetime and replaced at start once expired', async t => {
  const dir = await tempDir(t)
  const first = await ensureSetupToken(dir, 24)
  assert.ok(first.created)
  assert.equal((await stat(first.file)).mode & 0o777, 0o600)
  const again = await ensureSetupToken(dir, 24)
  assert.equal(again.token, first.token)
  assert.equal(again.created, false)
  assert.equal(again.expiresAt, first.expiresAt)
  // 25 hours later (the file's age is what counts)
  const old = new Date(Date.now() - 25 * 3600_000)
  await utimes(first.file, old, old)
  const renewed = await ensureSetupToken(dir, 24)
  assert.ok(renewed.created)
  assert.notEqual(renewed.token, first.token)
  assert.ok(renewed.expiresAt > Date.now() + 23 * 3600_000)
})

test('SETUP_TOKEN_TTL_HOURS sets the expiry the running server enforces', async t => {
  const { app } = await build(t, { env: { SETUP_TOKEN_TTL_HOURS: '2' } })
  const left = app.amorce.setup!.tokenExpiresAt - Date.now()
  assert.ok(left > 1.9 * 3600_000 && left <= 2 * 3600_000, `expires in ${left} ms`)
  assert.equal(path.basename(app.amorce.setup!.tokenFile!), 'setup-token')
})

test('the limiter: 10 failures a minute per client, then refusal until the window moves on', () => {
  const limiter = new FailureLimiter(10, 60_000, 3)
  const t0 = 1_000_000
  for (let i = 0; i < 9; i++) limiter.fail('a', t0 + i)
  assert.equal(limiter.retryAfter('a', t0 + 10), 0)
  limiter.fail('a', t0 + 10)
  assert.equal(limiter.retryAfter('a', t0 + 11), 60)
  assert.equal(limiter.retryAfter('b', t0 + 11), 0, 'per client')
  assert.equal(limiter.retryAfter('a', t0 + 30_000), 30)
  assert.equal(limiter.retryAfter('a', t0 + 60_001), 0, 'the oldest failure left the window')
  // Memory stays bounded: past maxClients the oldest client is forgotten.
  for (const c of ['b', 'c', 'd']) limiter.fail(c, t0 + 20)
  assert.equal(limiter.retryAfter('a', t0 + 21), 0)
})
