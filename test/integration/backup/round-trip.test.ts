// A backup restores into another engine with identical logical content, and ids continue after the restored ones:
// SQLite → PostgreSQL → MariaDB → SQLite (MariaDB joins once the migration runner drives it).
import assert from 'node:assert/strict'
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { createBackup } from '../../../server/backup/create.ts'
import { backupLimits } from '../../../server/backup/format.ts'
import { restoreBackup } from '../../../server/backup/restore.ts'
import type { Provider } from '../../../server/db/migrate.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { emptyDatabase, logicalDump, migrationsAvailable, nextAuditLogId, sampleRows, seed } from './fixtures.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

async function backupTo (t: TestContext, provider: Provider, url: string): Promise<string> {
  const file = path.join(await tempDir(t), 'backup.tar.gz')
  await createBackup(createWriteStream(file), { schema: referenceSchema, provider, url })
  return file
}

test('SQLite → PostgreSQL → MariaDB → SQLite keeps every table and every value, and ids continue', async t => {
  const chain: Provider[] = ['sqlite', 'postgresql', ...(migrationsAvailable('mysql') ? ['mysql' as const] : []), 'sqlite']
  if (!migrationsAvailable('mysql')) console.warn('\n*** MariaDB left out of the round trip: prisma/mysql/migrations does not exist yet ***\n')
  const source = (await emptyDatabase(t, 'sqlite'))!
  await seed('sqlite', source)
  const expected = await logicalDump('sqlite', source)
  assert.equal(expected.AuditLog.length, sampleRows().AuditLog.length)

  let from: { provider: Provider, url: string } = { provider: 'sqlite', url: source }
  for (const provider of chain.slice(1)) {
    const url = await emptyDatabase(t, provider)
    if (url === undefined) return
    const file = await backupTo(t, from.provider, from.url)
    const progress: number[] = []
    const summary = await restoreBackup({ schema: referenceSchema, admin: adminStore, file, provider, url, limits: backupLimits({}), onProgress: p => progress.push(p.rowsDone) })
    assert.equal(summary.sourceProvider, from.provider)
    assert.equal(summary.totalRows, 8)
    assert.equal(progress.at(-1), 8, 'progress reaches the total')
    assert.deepEqual(await logicalDump(provider, url), expected, `${from.provider} → ${provider}`)
    from = { provider, url }
  }
  // The counters continue after the highest restored id (40), on the last engine of the chain.
  assert.equal(await nextAuditLogId(from.provider, from.url), 41)
})

for (const provider of ['postgresql', 'mysql'] as const) {
  test(`ids continue after the restored ones on ${provider}`, async t => {
    if (!migrationsAvailable(provider)) return t.skip(`no ${provider} migrations yet`)
    const source = (await emptyDatabase(t, 'sqlite'))!
    await seed('sqlite', source)
    const url = await emptyDatabase(t, provider)
    if (url === undefined) return
    await restoreBackup({ schema: referenceSchema, admin: adminStore, file: await backupTo(t, 'sqlite', source), provider, url, limits: backupLimits({}) })
    assert.equal(await nextAuditLogId(provider, url), 41)
  })
}
