// `amorce` itself: help and version, localized texts, usage errors (exit 2), and `amorce start` serving
// then stopping on SIGTERM (exit 0), or refusing a bad configuration (exit 78).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { spawn } from 'node:child_process'
import { cliLanguage } from '../../../server/cli/context.ts'
import { repoRoot, TSX } from '../../helpers/server.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { CLI, runCli, spawnCli } from './run.ts'

const version = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version

test('--version prints the package version; --help lists every command; no command is a usage error', async t => {
  const dir = await tempDir(t)
  const v = await spawnCli(['--version'], {}, dir)
  assert.equal(v.code, 0)
  assert.equal(v.out.trim(), version)
  const help = await runCli(['--help'], {}, dir)
  assert.equal(help.code, 0)
  for (const usage of ['start', 'doctor', 'backup --out FILE', 'backup verify FILE', 'restore FILE', 'migrate status', 'migrate deploy', 'admin reset-password USERNAME']) {
    assert.match(help.out, new RegExp(`^  ${usage.replace(/[[\]]/g, '\\$&')}`, 'm'), usage)
  }
  const none = await runCli([], {}, dir)
  assert.equal(none.code, 2)
  assert.match(none.out, /Usage: amorce <command>/)
})

test('each command has its own help; unknown commands and options exit 2 and say what is wrong', async t => {
  const dir = await tempDir(t)
  const h = await runCli(['backup', 'verify', '--help'], {}, dir)
  assert.equal(h.code, 0)
  assert.match(h.out, /^Usage: amorce backup verify FILE/)
  assert.match(h.out, /writing nothing|Writes nothing/)
  assert.match((await runCli(['help', 'restore'], {}, dir)).out, /^Usage: amorce restore FILE/)
  const unknown = await runCli(['frobnicate'], {}, dir)
  assert.deepEqual([unknown.code, unknown.err.split('\n')[0]], [2, 'Unknown command: frobnicate.'])
  const option = await runCli(['doctor', '--verbose'], {}, dir)
  assert.deepEqual([option.code, option.err.split('\n')[0]], [2, 'Unknown option: --verbose.'])
  const missing = await runCli(['backup'], {}, dir)
  assert.equal(missing.code, 2)
  assert.match(missing.err, /The option --out is required\.\nUsage: amorce backup --out FILE/)
  const group = await runCli(['migrate'], {}, dir)
  assert.equal(group.code, 2)
  assert.match(group.err, /needs a subcommand: status, deploy/)
  const extra = await runCli(['restore', 'a.tar.gz', 'b.tar.gz'], {}, dir)
  assert.equal(extra.code, 2)
  assert.match(extra.err, /Unexpected argument: b\.tar\.gz/)
})

test('the language comes from AMORCE_LANG, then LC_ALL, LC_MESSAGES, LANG (POSIX order), English by default', async t => {
  assert.equal(cliLanguage({}), 'en')
  assert.equal(cliLanguage({ LANG: 'fr_FR.UTF-8' }), 'fr')
  assert.equal(cliLanguage({ LANG: 'fr_FR.UTF-8', LC_ALL: 'C' }), 'en')
  assert.equal(cliLanguage({ LANG: 'de_DE.UTF-8' }), 'en')
  assert.equal(cliLanguage({ LC_MESSAGES: 'fr_CA', LANG: 'en_US' }), 'fr')
  assert.equal(cliLanguage({ AMORCE_LANG: 'en', LC_ALL: 'fr_FR' }), 'en')
  assert.equal(cliLanguage({ AMORCE_LANG: 'xx', LANG: 'fr_BE' }), 'fr')
  const dir = await tempDir(t)
  const fr = await spawnCli(['bogus'], { LANG: 'fr_FR.UTF-8' }, dir)
  assert.equal(fr.code, 2)
  assert.match(fr.out, /Commande inconnue\s: bogus\./)
})

test('amorce start serves the wizard from the working directory\'s configuration, and SIGTERM stops it with exit 0', async t => {
  const dir = await tempDir(t)
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'start'], {
    cwd: dir,
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { out += d })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address in 60 s:\n${out}`)), 60_000)
    child.stdout.on('data', () => {
      const m = /waiting at (http:\/\/\S+?)\/?(?:\s|$)/.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1].replace('localhost', '127.0.0.1')) }
    })
  })
  // The configuration is the working directory's: the token file is in ./data.
  assert.match(out, new RegExp(`also in ${path.join(dir, 'data', 'setup-token').replace(/[.]/g, '\\.')}`))
  const health = await fetch(`${url}/health`)
  assert.equal(health.status, 200)
  // The same start() as npm start: test/integration/deploy/shutdown.test.ts proves the in-flight requests finish.
  child.kill('SIGTERM')
  assert.equal(await exited, 0, out)
})

test('amorce start exits 78 on an invalid configuration, naming the setting', async t => {
  const dir = await tempDir(t)
  const r = await spawnCli(['start'], { PORT: 'eighty' }, dir)
  assert.equal(r.code, 78)
  assert.match(r.out, /PORT must be an integer/)
  const doctor = await spawnCli(['doctor'], { PORT: 'eighty' }, dir)
  assert.equal(doctor.code, 78)
  assert.match(doctor.out, /PORT must be an integer/)
})
