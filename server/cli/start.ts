// `amorce start`: what `npm start` runs (server/start.ts) for the app the command serves, in the working
// directory's configuration.
import { start } from '../start.ts'
import { KEEP_RUNNING, type CliContext } from './context.ts'

export async function runStart (ctx: CliContext): Promise<number> {
  const { options } = await ctx.app()
  await start({ ...options, env: ctx.env, cwd: ctx.cwd })
  return KEEP_RUNNING
}
