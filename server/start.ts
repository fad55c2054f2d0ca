// Starting a server: read the configuration, start in setup or normal mode, listen, shut down cleanly.
// Shared by `npm start` (server/main.ts), `amorce start` (server/cli/index.ts) and a host's own entry.
import { createServer, type PluginOptions } from './app.ts'
import { ConfigError } from './config/config.ts'
import { terminalLogger } from './logger.ts'

/** EX_CONFIG (sysexits.h): the process manager should not restart it in a loop. */
export const EXIT_CONFIG = 78

/** The host's definition (name, root, schema, admin, app…) and where its configuration is read from. */
export type StartOptions = PluginOptions

/**
 * Listens and returns once the server is up; the process then lives until SIGTERM or SIGINT, which close
 * the server after the requests in flight and exit 0. A bad configuration exits 78.
 */
export async function start (options: StartOptions): Promise<void> {
  const env = options.env ?? process.env
  let app: Awaited<ReturnType<typeof createServer>>
  try {
    app = await createServer({ ...options, env, logger: terminalLogger(env) })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(`Configuration error: ${err.message}`)
    process.exit(EXIT_CONFIG)
  }
  const { config } = app.amorce

  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    // The usual causes get one plain line with what to do, not a stack trace.
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      console.error(code === 'EADDRINUSE'
        ? `Port ${config.port} on ${config.host} is already in use by another program. Stop that program, or choose another port: PORT=${config.port + 1} npm start (or PORT=… in the .env file).`
        : `Port ${config.port} on ${config.host} may not be used by this account (ports below 1024 need privileges). Choose another port: PORT=3000 npm start (or PORT=… in the .env file).`)
      process.exit(1)
    }
    app.log.error({ err }, 'could not listen')
    process.exit(1)
  }

  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  const url = `http://${shownHost}:${port}${config.basePath}/`

  // Everything given by the environment (a platform's DATABASE_URL, CACHE_*, ADMIN_*): install now,
  // while /health already answers {"status":"setup"}. On failure the log says why and the wizard stays.
  const { reloadConfig, switchToNormal } = app.amorce.lifecycle!
  const name = app.amorce.definition.name
  // Loaded only in setup mode: an installed app never loads the wizard's code.
  const unattended = app.amorce.mode === 'setup'
    ? await (await import('./setup/unattended.ts')).runUnattended(app, { reloadConfig, switchToNormal }, env)
    : 'notRequested'
  if (unattended === 'installed') console.log(`\n${name} was installed from the environment: sign in at ${url}login`)
  if (unattended === 'failed') console.log('\nThe install from the environment stopped (see the log above): the setup wizard is open instead.')

  if (app.amorce.mode === 'setup') {
    // Plain lines on stdout, after the log's own: a person and a script both find them.
    // One write, so a reader never sees the address without the token.
    console.log([
      '',
      `${name} setup is waiting at ${url}`,
      `Setup token: ${app.amorce.setup!.token}`,
      app.amorce.setup!.tokenFile
        ? `(also in ${app.amorce.setup!.tokenFile}; open ${url}setup?token=<token> or paste it in the page)`
        : `(it could not be saved in ${config.dataDir}: the wizard's prerequisites page explains why)`,
      ''
    ].join('\n'))
  } else {
    console.log(`\n${name} is running at ${url} (${app.amorce.mode === 'normal' ? 'installed' : 'installed, but unavailable: see the log'})\n`)
  }

  // A parent that started this process with an IPC channel (a test, a supervisor) learns that it
  // serves, and where, without parsing the lines above.
  if (process.send && process.connected) process.send({ amorce: 'ready', url, mode: app.amorce.mode }, undefined, undefined, () => {})

  let closing = false
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) return
      closing = true
      app.log.info({ signal }, 'shutting down')
      const force = setTimeout(() => process.exit(1), 10_000)
      force.unref()
      // close() waits for requests in flight; a keep-alive connection that goes idle after its last
      // response would then hold the exit until the client drops it, so such connections are closed too.
      const idle = setInterval(() => app.server.closeIdleConnections(), 100)
      idle.unref()
      app.close().then(() => process.exit(0), () => process.exit(1))
    })
  }
}
