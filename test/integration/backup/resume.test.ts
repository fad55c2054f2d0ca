// A restore survives a crash between its commit and the journal: the resumed install's restore stage recognises
// its own completed restore (the marker row committed with the data) and does not load it twice.
import assert from 'node:assert/strict'
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { createBackup } from '../../../server/backup/create.ts'
import { backupLimits } from '../../../server/backup/format.ts'
import { restoreStage } from '../../../server/backup/install.ts'
import { readManifest, restoreMarker } from '../../../server/backup/restore.ts'
import { verifyBackup } from '../../../server/backup/verify.ts'
import { migrate } from '../../../server/db/migrate.ts'
import type { WizardData } from '../../../server/setup/wizard.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { emptyDatabase, logicalDump, seed } from './fixtures.ts'
import { referenceSchema } from '../../../server/reference.ts'
import { adminStore } from '../../../server/app/admin-store.ts'

test('a resumed install skips a restore its crashed run had committed; another backup is still refused', async t => {
  const source = (await emptyDatabase(t, 'sqlite'))!
  await seed('sqlite', source)
  const file = path.join(await tempDir(t), 'backup.tar.gz')
  await createBackup(createWriteStream(file), { schema: referenceSchema, provider: 'sqlite', url: source })
  const summary = await verifyBackup(file, { schema: referenceSchema, admin: adminStore, provider: 'sqlite', limits: backupLimits({}) })

  const url = (await emptyDatabase(t, 'sqlite'))!
  const data = {
    answers: {
      database: { provider: 'sqlite', url },
      restore: { mode: 'path', file, summary, confirmed: true }
    }
  } as unknown as WizardData
  // The finalize's migrate stage: up to the backup's level.
  await migrate({ provider: 'sqlite', migrationsDir: referenceSchema.migrationsDir('sqlite'), url, upTo: summary.migration })
  const events: string[] = []
  const first = await restoreStage(data, m => events.push(m.key), { schema: referenceSchema, admin: adminStore }, {})
  assert.equal(first.key, 'backup.stages.restored')
  assert.ok(events.includes('backup.progress.rows'))
  const after = await logicalDump('sqlite', url)
  const { manifest } = await readManifest({ schema: referenceSchema, file, provider: 'sqlite', limits: backupLimits({}) })
  assert.ok(after.Setting.some(l => JSON.parse(l).key === 'backup:restored' && JSON.parse(l).value === restoreMarker(manifest).value))

  // The process died before the journal recorded the stage: the resumed install runs the stage again.
  await migrate({ provider: 'sqlite', migrationsDir: referenceSchema.migrationsDir('sqlite'), url, upTo: summary.migration })
  const again = await restoreStage(data, () => {}, { schema: referenceSchema, admin: adminStore }, {})
  assert.equal(again.key, 'backup.stages.restored')
  assert.equal(again.params?.rows, summary.totalRows)
  assert.deepEqual(await logicalDump('sqlite', url), after, 'nothing loaded twice, nothing lost')

  // A different backup is not mistaken for the one already loaded: the non-empty database is refused.
  const other = path.join(await tempDir(t), 'other.tar.gz')
  const otherSource = (await emptyDatabase(t, 'sqlite'))!
  await seed('sqlite', otherSource, { Setting: [['another', 'backup', new Date('2026-01-01T00:00:00.000Z')]] })
  await createBackup(createWriteStream(other), { schema: referenceSchema, provider: 'sqlite', url: otherSource })
  const otherSummary = await verifyBackup(other, { schema: referenceSchema, admin: adminStore, provider: 'sqlite', limits: backupLimits({}) })
  const otherData = { ...data, answers: { ...data.answers, restore: { mode: 'path', file: other, summary: otherSummary, confirmed: true } } } as unknown as WizardData
  await assert.rejects(restoreStage(otherData, () => {}, { schema: referenceSchema, admin: adminStore }, {}), { code: 'targetNotEmpty' })
})
