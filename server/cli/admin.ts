// `amorce admin reset-password USERNAME`: a new password read from the terminal (not echoed, asked twice) or
// from stdin (its first line, for scripts), checked as the wizard checks it, hashed with argon2id and stored
// through the app's AdminStore (its own users table); the user's sessions (those whose `userId` is the
// administrator's id) end where the cache keeps them outside the server (Redis, a directory).
import { loadConfig } from '../config/config.ts'
import { checkPasswordStrength, hashPassword } from '../auth/password.ts'
import { openCache } from '../cache/index.ts'
import { endUserSessions } from '../cache/session-store.ts'
import { createClient } from '../runtime.ts'
import { EXIT, type CliContext } from './context.ts'

class Interrupted extends Error {}

/** One line typed without echo; Ctrl-C interrupts, Ctrl-D ends the line. */
function readHidden (ctx: CliContext, prompt: string): Promise<string> {
  const { stdin, stderr } = ctx.io
  stderr.write(prompt)
  return new Promise((resolve, reject) => {
    let text = ''
    stdin.setRawMode!(true)
    stdin.resume()
    const done = (error?: Error) => {
      stdin.setRawMode!(false)
      stdin.pause()
      stdin.removeListener('data', onData)
      stderr.write('\n')
      if (error) reject(error)
      else resolve(text)
    }
    const onData = (chunk: Buffer | string) => {
      for (const ch of String(chunk)) {
        if (ch === '\u0003') return done(new Interrupted())
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done()
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('')
        else if (ch >= ' ') text += ch
      }
    }
    stdin.on('data', onData)
  })
}

/** The first line of a piped stdin (a trailing CR LF or LF is not part of the password). */
async function readPiped (ctx: CliContext): Promise<string> {
  let text = ''
  for await (const chunk of ctx.io.stdin) {
    text += String(chunk)
    if (text.includes('\n')) break
  }
  return text.split('\n')[0].replace(/\r$/, '')
}

export async function resetPassword (ctx: CliContext, username: string): Promise<number> {
  const { t } = ctx
  const config = await loadConfig(ctx.env, ctx.cwd, { languages: (await ctx.app()).definition.languages })
  const { databaseProvider: provider, databaseUrl: url } = config.values
  if (!config.installed || !provider || !url) {
    ctx.err(t('cli.admin.notInstalled', { file: config.envFile }))
    return EXIT.failed
  }
  const { definition } = await ctx.app()
  const db = await createClient(definition.schema, provider, url)
  try {
    const user = await definition.admin.find(db, username)
    if (!user) {
      ctx.err(t('cli.admin.unknownUser', { username }))
      return EXIT.failed
    }
    let password: string
    try {
      if (ctx.io.stdin.isTTY && ctx.io.stdin.setRawMode) {
        password = await readHidden(ctx, t('cli.admin.prompt', { username }))
        const again = await readHidden(ctx, t('cli.admin.confirm'))
        if (again !== password) {
          ctx.err(t('cli.admin.mismatch'))
          return EXIT.failed
        }
      } else {
        password = await readPiped(ctx)
      }
    } catch (error) {
      if (error instanceof Interrupted) return 130
      throw error
    }
    if (password === '') {
      ctx.err(t('cli.admin.empty'))
      return EXIT.failed
    }
    const verdict = await checkPasswordStrength(password, [user.username, user.email])
    if (!verdict.ok) {
      ctx.err(t('cli.admin.weak'))
      for (const reason of verdict.reasons) ctx.err(`  ${t(reason.key, reason.params ?? {})}`)
      return EXIT.failed
    }
    await definition.admin.setPassword(db, user.id, await hashPassword(password))

    const backend = config.values.cacheBackend ?? 'memory'
    let ended: number | null = null
    if (backend !== 'memory') {
      const cache = await openCache({ backend, dir: config.values.cacheDir, redisUrl: config.values.redisUrl })
      try {
        // The login keeps the id as it is (a number for most tables, a string for some): compared as such.
        ended = await endUserSessions(cache, user.id as number)
      } catch (error) {
        ctx.err(t('cli.admin.sessionsNotEnded', { detail: (error as Error).message }))
      } finally {
        await cache.close()
      }
    }
    await db.auditLog.create({ data: { event: 'admin.passwordReset', detail: JSON.stringify({ via: 'cli', admin: user.id, sessionsEnded: ended }) } })
    ctx.out(t('cli.admin.changed', { username }))
    if (ended !== null) ctx.out(t('cli.admin.sessionsEnded', { count: ended, backend }))
    else if (backend === 'memory') ctx.out(t('cli.admin.sessionsInMemory'))
    return ended === null && backend !== 'memory' ? EXIT.failed : EXIT.ok
  } finally {
    await db.$disconnect()
  }
}
