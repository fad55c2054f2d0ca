// Which app a command serves: `--app FILE`, else package.json's `amorce.app` in the working directory, else the
// reference app; `admin reset-password` goes through that app's AdminStore, never a table of its own.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { repoRoot } from '../../helpers/server.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { installedApp } from '../cache/installed.ts'
import { runCli } from './run.ts'

const NEW_PASSWORD = 'Quartz-Lantern-Orbit-7391'

/**
 * A host definition module: the reference app's tables under another name, with an AdminStore of its own that
 * knows its administrator as "chief" (the reference store knows no such login) and journals each change.
 */
function hostModule (dir: string): string {
  const reference = pathToFileURL(path.join(repoRoot, 'server/app/index.ts')).href
  return `import reference from ${JSON.stringify(reference)}
export default {
  ...reference,
  name: 'Carnet',
  root: ${JSON.stringify(dir)},
  schema: { ...reference.schema, migrationsDir: p => ${JSON.stringify(path.join(repoRoot, 'prisma'))} + '/' + p + '/migrations' },
  admin: {
    ...reference.admin,
    find: async (db, login) => login === 'chief' ? db.adminUser.findFirst({ where: { username: 'admin' } }) : null,
    async setPassword (db, id, passwordHash) {
      await db.adminUser.update({ where: { id }, data: { passwordHash } })
      await db.setting.upsert({ where: { key: 'carnet:reset' }, create: { key: 'carnet:reset', value: String(id) }, update: { value: String(id) } })
    }
  }
}
`
}

function envOf (dir: string): NodeJS.ProcessEnv {
  return { ENV_FILE: path.join(dir, '.env'), DATA_DIR: path.join(dir, 'data') }
}

test('--app FILE: admin reset-password finds and updates the administrator through that app\'s AdminStore', async t => {
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, { backend: 'filesystem' })
  await writeFile(path.join(dir, 'carnet.mjs'), hostModule(dir))

  const reference = await runCli(['admin', 'reset-password', 'chief'], envOf(dir), dir, { stdin: `${NEW_PASSWORD}\n` })
  assert.equal(reference.code, 1, 'the reference app\'s store knows no "chief"')
  assert.match(reference.err, /chief/)

  const r = await runCli(['--app', './carnet.mjs', 'admin', 'reset-password', 'chief'], envOf(dir), dir, { stdin: `${NEW_PASSWORD}\n` })
  assert.equal(r.code, 0, r.all)
  assert.match(r.out, /The password of chief was changed/)
  const admin = await app.amorce.db.adminUser.findFirst({ where: { username: 'admin' } })
  assert.equal((await app.amorce.db.setting.findUnique({ where: { key: 'carnet:reset' } }))?.value, String(admin!.id), 'the host\'s setPassword ran')
})

test('package.json "amorce": { "app": … } names the app when --app is not given; a broken module is a configuration error', async t => {
  const dir = await tempDir(t)
  await installedApp(t, dir, { backend: 'filesystem' })
  await writeFile(path.join(dir, 'carnet.mjs'), hostModule(dir))
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'carnet', amorce: { app: './carnet.mjs' } }))
  const r = await runCli(['admin', 'reset-password', 'chief'], envOf(dir), dir, { stdin: `${NEW_PASSWORD}\n` })
  assert.equal(r.code, 0, r.all)

  await writeFile(path.join(dir, 'broken.mjs'), 'export default { name: "Broken" }\n')
  const invalid = await runCli(['--app=./broken.mjs', 'migrate', 'status'], envOf(dir), dir)
  assert.equal(invalid.code, 78, invalid.all)
  assert.match(invalid.err, /broken\.mjs does not export valid Amorce options by default: .*root/)
  const missing = await runCli(['migrate', 'status', '--app', './nowhere.mjs'], envOf(dir), dir)
  assert.equal(missing.code, 78, missing.all)
  assert.match(missing.err, /nowhere\.mjs could not be loaded/)
})
