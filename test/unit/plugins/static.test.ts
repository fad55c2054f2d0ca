// Amorce's static files (server/plugins/static.ts): the right type and caching headers, validators that answer
// 304, and nothing outside the directory, no dotfiles, no directories.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import Fastify from 'fastify'
import staticFiles, { staticFile } from '../../../server/plugins/static.ts'
import { publicDir } from '../../../server/app.ts'
import { tempDir } from '../../helpers/tmp.ts'

test('serves public/ with its type, an hour of caching and validators; 304 when unchanged', async t => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(staticFiles, { root: publicDir, prefix: '/base', maxAge: 3600 })
  const css = await app.inject('/base/public/app.css')
  assert.equal(css.statusCode, 200)
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8')
  assert.equal(css.headers['cache-control'], 'public, max-age=3600')
  assert.equal(css.body, await readFile(path.join(publicDir, 'app.css'), 'utf8'))
  const js = await app.inject('/base/public/js/setup.js')
  assert.equal(js.statusCode, 200)
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8')

  const etag = String(css.headers.etag)
  assert.match(etag, /^W\/"[0-9a-f]+-[0-9a-f]+"$/)
  assert.equal((await app.inject({ url: '/base/public/app.css', headers: { 'if-none-match': etag } })).statusCode, 304)
  assert.equal((await app.inject({ url: '/base/public/app.css', headers: { 'if-none-match': 'W/"0-0"' } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/base/public/app.css', headers: { 'if-modified-since': String(css.headers['last-modified']) } })).statusCode, 304)
  const head = await app.inject({ method: 'HEAD', url: '/base/public/app.css' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.body, '')
})

test('a file changed on disk is served anew, with a new validator', async t => {
  const dir = await tempDir(t)
  await writeFile(path.join(dir, 'a.css'), 'body{}')
  const app = Fastify()
  t.after(() => app.close())
  await app.register(staticFiles, { root: dir, maxAge: 60 })
  const first = await app.inject('/public/a.css')
  assert.equal(first.body, 'body{}')
  await writeFile(path.join(dir, 'a.css'), 'body{color:red}')
  await utimes(path.join(dir, 'a.css'), new Date(), new Date(Date.now() + 5000))
  const second = await app.inject('/public/a.css')
  assert.equal(second.body, 'body{color:red}')
  assert.notEqual(second.headers.etag, first.headers.etag)
})

test('nothing outside the directory, no dotfiles, no directories, no undecodable names', async t => {
  const dir = await tempDir(t)
  await mkdir(path.join(dir, 'public-root', 'sub'), { recursive: true })
  await writeFile(path.join(dir, 'secret.txt'), 'OUTSIDE-CONTENT')
  await writeFile(path.join(dir, 'public-root', '.env'), 'DOTFILE-CONTENT')
  await writeFile(path.join(dir, 'public-root', 'sub', 'ok.txt'), 'ok')
  const root = path.join(dir, 'public-root')
  const app = Fastify()
  t.after(() => app.close())
  await app.register(staticFiles, { root, maxAge: 60 })
  assert.equal((await app.inject('/public/sub/ok.txt')).body, 'ok')
  for (const url of ['/public/../secret.txt', '/public/%2e%2e/secret.txt', '/public/sub/..%2f..%2fsecret.txt', '/public/.env', '/public/sub', '/public/sub/', '/public/', '/public/%E0%A4%A', '/public/sub%5c..%5c..%5csecret.txt', '/public/ok.txt%00']) {
    const res = await app.inject(url)
    // (a name that does not decode is refused by Fastify's router itself, with a 400)
    assert.ok(res.statusCode === 404 || (res.statusCode === 400 && url.includes('%E0')), `${url}: ${res.statusCode}`)
    assert.doesNotMatch(res.body, /OUTSIDE-CONTENT|DOTFILE-CONTENT/, url)
  }
  assert.equal(staticFile(root, 'sub/ok.txt'), path.join(root, 'sub', 'ok.txt'))
  assert.equal(staticFile(root, '../secret.txt'), undefined)
  assert.equal(staticFile(root, 'sub//ok.txt'), undefined)
})
