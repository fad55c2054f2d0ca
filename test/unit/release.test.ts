// Releases: the version is semver and CHANGELOG.md has its entry, in Keep a Changelog's form.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { repoRoot } from '../helpers/server.ts'

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/

test('package.json has a semver version and CHANGELOG.md a dated entry for it, newest first', async () => {
  const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'))
  assert.match(version, SEMVER)
  const changelog = await readFile(path.join(repoRoot, 'CHANGELOG.md'), 'utf8')
  const releases = [...changelog.matchAll(/^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$/gm)].map(m => ({ version: m[1], date: m[2] }))
  assert.equal(releases[0]?.version, 'Unreleased', 'an [Unreleased] section on top collects what is merged next')
  const released = releases.slice(1)
  assert.equal(released[0]?.version, version, `the newest released entry is ${version}`)
  for (const r of released) {
    assert.match(r.version, SEMVER)
    assert.ok(r.date, `${r.version} has a date`)
  }
  const dates = released.map(r => r.date!)
  assert.deepEqual(dates, [...dates].sort().reverse(), 'newest first')
})
