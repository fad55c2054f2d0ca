// The server's log format: readable lines in a terminal when pino-pretty is installed (a development
// install), JSON lines (pino) everywhere else, e.g. under systemd or Docker, or when LOG_JSON is set.
import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

const require = createRequire(import.meta.url)

function installed (id: string): boolean {
  try { require.resolve(id); return true } catch { return false }
}

export function terminalLogger (env: NodeJS.ProcessEnv = process.env, tty = Boolean(process.stdout.isTTY)): FastifyServerOptions['logger'] {
  if (!tty || env.LOG_JSON || !installed('pino-pretty')) return undefined
  return { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } }
}
