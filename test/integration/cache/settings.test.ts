// App settings are read through the cache: the dashboard's instance name costs no query once
// cached, a change made through the app is seen at once, a change behind its back only after expiry.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client, tempDir, text } from '../../helpers/app.ts'
import { createSettings } from '../../../server/app/settings.ts'
import { ADMIN, installedApp } from './installed.ts'

test('the instance name: set on the dashboard, read through the cache, invalidated on change', async t => {
  const dir = await tempDir(t)
  const { app } = await installedApp(t, dir, { backend: 'filesystem' })
  const { db, cache } = app.amorce.runtime!
  const client = new Client(app, { 'accept-language': 'en' })
  await client.get('/login')
  assert.equal((await client.post('/login', { login: ADMIN.username, password: ADMIN.password })).statusCode, 303)

  const empty = await client.get('/dashboard')
  assert.match(text(empty), /Not named yet\./)
  assert.deepEqual(await cache.get('setting:instance.name'), { value: null }, 'an unset setting is cached too')

  const saved = await client.post('/settings/instance-name', { instanceName: '  Bureau de Paris  ' })
  assert.equal(saved.statusCode, 303)
  const named = await client.get('/dashboard')
  assert.match(text(named), /<p data-field="instanceName">Bureau de Paris<\/p>/)
  assert.equal((await db.setting.findUnique({ where: { key: 'instance.name' } }))?.value, 'Bureau de Paris')

  // Changed in the database behind the app's back: the cached value still answers (no query)…
  await db.setting.update({ where: { key: 'instance.name' }, data: { value: 'Changed elsewhere' } })
  assert.equal(await createSettings(app.amorce.runtime!).get('instanceName'), 'Bureau de Paris')
  // …until the cached entry goes; a change through the app drops it at once.
  await createSettings(app.amorce.runtime!).set('instanceName', 'Lyon')
  assert.match(text(await client.get('/dashboard')), /<p data-field="instanceName">Lyon<\/p>/)
  await createSettings(app.amorce.runtime!).set('instanceName', '')
  assert.match(text(await client.get('/dashboard')), /Not named yet\./)
  assert.equal(await db.setting.count(), 0)
})
