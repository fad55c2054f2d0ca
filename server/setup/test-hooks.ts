// Test hooks of the install. AMORCE_TEST_PAUSE_AT=<stage> makes the install stop before that stage (after the
// previous one is journaled), print `AMORCE_TEST_PAUSED <stage>` and wait forever, so a test can SIGKILL the
// process at an exact boundary. `migrate:applying` and `migrate:applied` kill the process itself (SIGKILL)
// inside the migration run, where the runner's callback cannot wait: as the first migration is about to be
// applied, and right after it was committed. Inert unless the variable is set; nothing in production sets it.

export async function testPause (point: string): Promise<void> {
  if (process.env.AMORCE_TEST_PAUSE_AT !== point) return
  process.stdout.write(`AMORCE_TEST_PAUSED ${point}\n`)
  await new Promise(() => {})
}

export function testKill (point: string): void {
  if (process.env.AMORCE_TEST_PAUSE_AT !== point) return
  process.stdout.write(`AMORCE_TEST_PAUSED ${point}\n`)
  process.kill(process.pid, 'SIGKILL')
}
