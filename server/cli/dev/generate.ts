// `amorce dev generate`: `prisma generate` for each provider's composed schema of a host, with the host's own
// prisma CLI. Prisma's CLI wants a schema-engine binary even though generate does not use it, and would try to
// download one from a CDN many hosts cannot reach: pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file
// skips that download (scripts/prisma-generate.mjs does the same for this repository).
import { spawn } from 'node:child_process'
import { DEV_PACKAGES, DEV_PROVIDERS, hostLayout, resolveDev, type DevProvider } from './host.ts'

/** The environment Prisma's CLI runs in: no engine download, no update banner, no telemetry. */
export function prismaEnv (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    PRISMA_SCHEMA_ENGINE_BINARY: env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1'
  }
}

export class PrismaCliFailed extends Error {
  constructor (readonly provider: string, readonly output: string) {
    super(`prisma generate failed for ${provider}`)
  }
}

/** Runs Prisma's CLI (`node <prisma>/build/index.js …args`); resolves with its output, rejects on a failure. */
export function runPrismaCli (root: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number, output: string }> {
  const cli = resolveDev(root, 'prisma/build/index.js', DEV_PACKAGES.prisma)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: prismaEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.once('error', reject)
    child.once('close', code => resolve({ code: code ?? 1, output }))
  })
}

/** Generates the clients, the providers side by side (each is its own `prisma generate` process). */
export async function generateClients (root: string, providers: readonly DevProvider[] = DEV_PROVIDERS): Promise<DevProvider[]> {
  const layout = hostLayout(root)
  const runs = await Promise.all(providers.map(async provider => ({ provider, ...await runPrismaCli(layout.root, ['generate', '--schema', layout.schema(provider)]) })))
  const failed = runs.find(r => r.code !== 0)
  if (failed) throw new PrismaCliFailed(failed.provider, failed.output)
  return [...providers]
}
