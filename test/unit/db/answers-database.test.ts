// The answers file's `database` object: SQLite, a server by its fields or by a URL, `create`, with JSON-path problems.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AnswersError, parseAnswers } from '../../../server/replay/answers.ts'

const base = { version: 1, language: 'en', cache: { backend: 'memory' }, admin: { username: 'admin', email: 'a@b.c', password: 'x' } }
const parse = (database: unknown, env: NodeJS.ProcessEnv = {}) => parseAnswers(JSON.stringify({ ...base, database }), env)

function problems (database: unknown): string[] {
  try {
    parse(database)
  } catch (err) {
    assert.ok(err instanceof AnswersError)
    return err.problems.map(p => `${p.path}: ${p.message}`)
  }
  return []
}

test('a server is accepted by its fields (port as a number or a ${VAR}) or by a URL, with create: true', () => {
  assert.deepEqual(parse({ provider: 'postgresql', host: 'db', port: 5432, user: 'app', password: '${P}', database: 'app', ssl: 'verify', caFile: '/ca.pem', create: true }, { P: 's3cr@t' }).database,
    { provider: 'postgresql', host: 'db', port: 5432, user: 'app', password: 's3cr@t', database: 'app', ssl: 'verify', caFile: '/ca.pem', create: true })
  assert.equal((parse({ provider: 'mysql', host: 'db', port: '${DB_PORT}', user: 'app', database: 'app' }, { DB_PORT: '3307' }).database as { port: string }).port, '3307')
  assert.deepEqual(parse({ provider: 'mysql', url: '${DATABASE_URL}', create: true, multipleInstances: true }, { DATABASE_URL: 'mariadb://u:p%40ss@db/app' }).database,
    { provider: 'mysql', url: 'mariadb://u:p%40ss@db/app', create: true, multipleInstances: true })
  assert.equal(parse({ provider: 'sqlite', file: 'data/app.db' }).database.provider, 'sqlite')
})

test('bad database answers are named by their JSON path', () => {
  assert.deepEqual(problems({ provider: 'sqlite' }), ["$.database: must have required property 'file'"])
  assert.ok(problems({ provider: 'postgresql', host: 'db' }).some(p => /^\$\.database: must have required property '(url|user)'/.test(p)))
  assert.ok(problems({ provider: 'mysql', url: 'http://db/app' }).some(p => p.startsWith('$.database.url: must match pattern')))
  assert.ok(problems({ provider: 'mysql', url: 'mysql://db/app', ssl: 'yes' }).includes('$.database.ssl: must be one of "off", "required", "verify"'))
  assert.ok(problems({ provider: 'mysql', url: 'mysql://db/app', port: 70000 }).some(p => p.startsWith('$.database.port')))
  assert.ok(problems({ provider: 'oracle', url: 'x' }).some(p => p.startsWith('$.database.provider: must be one of')))
  assert.deepEqual(problems({ provider: 'mysql', url: 'mysql://db/app', tls: true }), ['$.database.tls: unknown property'])
})
