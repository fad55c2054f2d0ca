// The prerequisites step's checks that depend on how the package was installed: the Node floor it states
// agrees with package.json's engines, and a missing generated Prisma client (npm ci --ignore-scripts) is caught.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { loadConfig } from '../../../server/config/config.ts'
import { missingPrismaClients, MIN_NODE, runChecks } from '../../../server/setup/steps/prerequisites.ts'
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
  const check = (await runChecks(await config(t))).find(c => c.id === 'prismaClient')
  assert.deepEqual(check, { id: 'prismaClient', level: 'required', ok: true, params: { missing: '' } })
})

test('a missing generated client is a failing required check naming the providers', async t => {
  const generated = await tempDir(t)
  // Only SQLite's client is there (as .ts here: the tests run the sources).
  await mkdir(path.join(generated, 'sqlite'))
  await writeFile(path.join(generated, 'sqlite', 'client.ts'), '')
  assert.deepEqual(missingPrismaClients(generated), ['postgresql', 'mysql'])
  const check = (await runChecks(await config(t), { generatedDir: generated })).find(c => c.id === 'prismaClient')
  assert.deepEqual(check, { id: 'prismaClient', level: 'required', ok: false, params: { missing: 'postgresql, mysql' } })
})
