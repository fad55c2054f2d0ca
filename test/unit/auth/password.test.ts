// Admin password rules: a real strength estimate (not length alone) and argon2id hashes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { checkPasswordStrength, fastTestHashing, hashPassword, passwordCheckLoaded, preparePasswordCheck, releasePasswordCheck, verifyPassword } from '../../../server/auth/password.ts'

// This file is about hashing: production parameters here, whatever `npm test` sets for the others.
delete process.env.AMORCE_TEST_FAST_HASH

test('weak passwords are refused with a reason, even when long enough', async () => {
  for (const pw of ['password123', 'azertyuiop', 'motdepasse2024', 'qwertyuiop1', 'aaaaaaaaaaaa']) {
    const v = await checkPasswordStrength(pw)
    assert.equal(v.ok, false, pw)
    assert.equal(v.reasons[0].key, 'password.tooWeak', pw)
  }
})

test('short and overlong passwords say so', async () => {
  assert.deepEqual((await checkPasswordStrength('Xk9#q')).reasons[0], { key: 'password.tooShort', params: { min: 10 } })
  assert.equal((await checkPasswordStrength('x'.repeat(300))).reasons[0].key, 'password.tooLong')
})

test('the user\'s own name and email count against the password', async () => {
  // Strong on its own (score 4), weak once it is known to be the user's name and email.
  assert.equal((await checkPasswordStrength('zorbaquixplumtavel')).ok, true)
  const v = await checkPasswordStrength('zorbaquixplumtavel', ['zorbaquix', 'zorbaquix.plumtavel@example.org'])
  assert.equal(v.ok, false)
  assert.ok(v.reasons.some(r => r.key === 'password.warnings.userInputs'))
})

test('strong passphrases pass', async () => {
  for (const pw of ['Correct-Horse-Battery-Staple-42', 'lampe verte sous la pluie 1987', 'x8$Kp!2mQz@7vL']) {
    assert.equal((await checkPasswordStrength(pw)).ok, true, pw)
  }
})

test('hashes are argon2id, salted, and verify only the right password', async () => {
  const a = await hashPassword('Correct-Horse-Battery-Staple-42')
  const b = await hashPassword('Correct-Horse-Battery-Staple-42')
  assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  assert.notEqual(a, b)
  assert.equal(await verifyPassword(a, 'Correct-Horse-Battery-Staple-42'), true)
  assert.equal(await verifyPassword(a, 'correct-horse-battery-staple-42'), false)
  assert.equal(await verifyPassword('not a hash', 'x'), false)
})

test('the tests\' cheap hashing: only inside the test runner, never in production, and still verifiable', async t => {
  t.after(() => { delete process.env.AMORCE_TEST_FAST_HASH })
  const inRunner = { NODE_TEST_CONTEXT: 'child-v8' }
  assert.equal(fastTestHashing({ ...inRunner, AMORCE_TEST_FAST_HASH: '1' }), true)
  assert.equal(fastTestHashing({ ...inRunner, AMORCE_TEST_FAST_HASH: '1', NODE_ENV: 'production' }), false, 'ignored in production')
  assert.equal(fastTestHashing({ AMORCE_TEST_FAST_HASH: '1' }), false, 'ignored outside node\'s test runner')
  assert.equal(fastTestHashing({ ...inRunner }), false)
  assert.equal(fastTestHashing({ ...inRunner, AMORCE_TEST_FAST_HASH: 'true' }), false)

  const strong = await hashPassword('Correct-Horse-Battery-Staple-42')
  process.env.AMORCE_TEST_FAST_HASH = '1'
  const cheap = await hashPassword('Correct-Horse-Battery-Staple-42')
  assert.ok(process.env.NODE_TEST_CONTEXT, 'this file runs under node --test')
  assert.match(cheap, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
  // Each hash names its own parameters: both verify, with either setting.
  for (const h of [strong, cheap]) {
    assert.equal(await verifyPassword(h, 'Correct-Horse-Battery-Staple-42'), true)
    assert.equal(await verifyPassword(h, 'Correct-Horse-Battery-Staple-43'), false)
  }
  delete process.env.AMORCE_TEST_FAST_HASH
  assert.equal(await verifyPassword(cheap, 'Correct-Horse-Battery-Staple-42'), true)
  assert.match(await hashPassword('x'), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'production parameters again')
})

test('the dictionaries are loaded in a worker, never in this thread, and given back when it ends', async () => {
  assert.equal((await checkPasswordStrength('Correct-Horse-Battery-Staple-42')).ok, true)
  assert.equal(passwordCheckLoaded(), true)
  const loadedHere = Object.keys(createRequire(import.meta.url).cache).filter(f => f.includes('@zxcvbn-ts'))
  assert.deepEqual(loadedHere, [], 'zxcvbn is not loaded in the calling thread')
  await releasePasswordCheck()
  assert.equal(passwordCheckLoaded(), false)
  // The next check starts it again, with the same verdicts.
  assert.equal((await checkPasswordStrength('password123')).reasons[0].key, 'password.tooWeak')
  assert.equal(passwordCheckLoaded(), true)
  await releasePasswordCheck()
})

test('a check never blocks the thread that asks (the server answers other requests meanwhile), and checks asked at once each get their own verdict', async () => {
  await releasePasswordCheck()
  // A cold check loads the dictionaries first (a second or more): timers keep firing on this thread meanwhile.
  let ticks = 0
  const ticker = setInterval(() => { ticks++ }, 5)
  const verdicts = await Promise.all(['password123', 'Correct-Horse-Battery-Staple-42', 'azertyuiop', 'lampe verte sous la pluie 1987'].map(pw => checkPasswordStrength(pw)))
  clearInterval(ticker)
  assert.deepEqual(verdicts.map(v => v.ok), [false, true, false, true])
  assert.ok(ticks >= 3, `the event loop ran during the check (${ticks} ticks)`)
  await releasePasswordCheck()
})

test('a check waiting when its checker is released fails plainly instead of hanging', async () => {
  const refused = assert.rejects(checkPasswordStrength('Correct-Horse-Battery-Staple-42'), /password strength check/)
  await releasePasswordCheck()
  await refused
  assert.equal((await checkPasswordStrength('Correct-Horse-Battery-Staple-42')).ok, true, 'the next check starts a new one')
  await releasePasswordCheck()
})

test('a prepared checker that is no longer used ends by itself', async () => {
  preparePasswordCheck(300)
  assert.equal(passwordCheckLoaded(), true)
  assert.equal((await checkPasswordStrength('lampe verte sous la pluie 1987')).ok, true)
  const deadline = Date.now() + 20_000
  while (passwordCheckLoaded() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(passwordCheckLoaded(), false, 'the worker ended after its idle time')
})
