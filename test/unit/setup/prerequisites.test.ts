// The prerequisites step's checks that depend on how the package was installed: the Node floor it states
// agrees with package.json's engines, and a missing generated Prisma client (npm ci --ignore-scripts) is caught.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { loadConfig } from '../../../server/config/config.ts'
import { missingPrismaClients, MIN_NODE, runChecks } from '../../../server/setup/steps/prerequisites.ts'
import { referenceSchema } from '../../../server/reference.ts'
import type { AppSchema } from '../../../server/definition.ts'
import { repoRoot } from '../../helpers/server.ts'
import { tempDir } from '../../helpers/tmp.ts'

async function config (t: import('node:test').TestContext) {
  const dir = await tempDir(t)
  return loadConfig({ DATA_DIR: path.join(dir, 'data'), ENV_FILE: path.join(dir, '.env') }, dir)
}

test('the Node floor checked is the one package.json declares in engines', async () => {
  const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'))
  assert.equal(pkg.engines.node, `>=${MIN_NODE.join('.')}`)
})

test('the generated Prisma clients beside the running code are found', async t => {
  assert.deepEqual(missingPrismaClients(), [])
  const check = (await runChecks(await config(t), { schema: referenceSchema })).find(c => c.id === 'prismaClient')
  assert.deepEqual(check, { id: 'prismaClient', level: 'required', ok: true, params: { missing: '' } })
})

test('a missing generated client is a failing required check naming the providers', async t => {
  const generated = await tempDir(t)
  // Only SQLite's client is there (as .ts here: the tests run the sources).
  await mkdir(path.join(generated, 'sqlite'))
  await writeFile(path.join(generated, 'sqlite', 'client.ts'), '')
  assert.deepEqual(missingPrismaClients(generated), ['postgresql', 'mysql'])
  const check = (await runChecks(await config(t), { schema: referenceSchema, generatedDir: generated })).find(c => c.id === 'prismaClient')
  assert.deepEqual(check, { id: 'prismaClient', level: 'required', ok: false, params: { missing: 'postgresql, mysql' } })
})

test("a host's schema without a file check: its clients are loaded, and one that does not load is named", async t => {
  const host: AppSchema = {
    client: async provider => {
      if (provider === 'mysql') throw new Error('Cannot find module ./generated/mysql/client.js')
      return class {} as unknown as Awaited<ReturnType<AppSchema['client']>>
    },
    migrationsDir: provider => path.join('/nowhere', provider)
  }
  const check = (await runChecks(await config(t), { schema: host })).find(c => c.id === 'prismaClient')
  assert.deepEqual(check, { id: 'prismaClient', level: 'required', ok: false, params: { missing: 'mysql' } })
})
