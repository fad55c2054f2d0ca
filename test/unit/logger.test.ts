// The log format: pino-pretty only in a terminal, when installed (a development install), and not with LOG_JSON.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { terminalLogger } from '../../server/logger.ts'

test('JSON lines unless a terminal; pretty lines through pino-pretty in a terminal, unless LOG_JSON', () => {
  assert.equal(terminalLogger({}, false), undefined)
  assert.equal(terminalLogger({ LOG_JSON: '1' }, true), undefined)
  const pretty = terminalLogger({}, true)
  assert.ok(pretty && typeof pretty === 'object' && 'transport' in pretty)
  assert.equal((pretty.transport as { target: string }).target, 'pino-pretty', 'installed here as a development dependency')
})
