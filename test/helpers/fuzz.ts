// fast-check for the whole suite: `npm test` replays one fixed seed (a failure is the same on every
// machine and every run); `npm run test:stress` (AMORCE_STRESS=1) draws a new seed, printed, and ten
// times the cases. FUZZ_SEED=<n> replays a given seed in either.
import fc from 'fast-check'

export const STRESS = process.env.AMORCE_STRESS === '1'
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : STRESS ? (Date.now() ^ (process.pid << 8)) >>> 0 : 20_261_201
fc.configureGlobal({ seed: FUZZ_SEED })
if (STRESS || process.env.FUZZ_SEED) console.log(`# fast-check seed ${FUZZ_SEED} (FUZZ_SEED=${FUZZ_SEED} replays it)`)

/** How many cases a property runs: `n` in `npm test`, ten times as many under stress. */
export function runs (n: number): number {
  return STRESS ? n * 10 : n
}

export { fc }
