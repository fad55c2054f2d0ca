// `npm run check:package`: what a user installs works. Packs the package, installs the tarball with
// --omit=dev in an empty directory, then checks, failing loudly on the first problem:
//   1. the production install stays under 150 MB;
//   2. its published types: a TypeScript consumer importing the public entry ('amorce') compiles;
//   3. the compiled server starts from node_modules and serves the wizard on SQLite;
//   4. the replay, without playwright-core (an optional peer), says how to add it and exits 3;
//   5. `npx amorce --version`, when the package has a bin.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { installTarball, pack, root, treeSize } from './pack.ts'

const MAX_INSTALL_BYTES = 150 * 1024 * 1024
const keep = process.argv.includes('--keep')
const work = mkdtempSync(path.join(os.tmpdir(), 'amorce-package-'))
const consumer = path.join(work, 'consumer')
const mb = (n: number) => (n / 1024 ** 2).toFixed(1)
let failed = false
const check = (ok: boolean, line: string) => { console.log(`${ok ? '✓' : '✗'} ${line}`); if (!ok) failed = true }

async function main (): Promise<void> {
  const packed = pack(path.join(work, 'pack'))
  console.log(`packed ${path.basename(packed.tarball)}: ${mb(packed.bytes)} MB, ${packed.files} files`)
  const install = installTarball(consumer, packed.tarball)
  const size = treeSize(path.join(consumer, 'node_modules'))
  check(size.bytes <= MAX_INSTALL_BYTES, `production install: ${mb(size.bytes)} MB (${mb(size.diskBytes)} MB on disk), ${size.files} files, ${(install.ms / 1000).toFixed(1)} s (goal ≤ ${mb(MAX_INSTALL_BYTES)} MB)`)
  const installed = path.join(consumer, 'node_modules', 'amorce')
  for (const absent of ['prisma', 'tsx', 'typescript', 'playwright-core', 'pino-pretty']) {
    check(!existsSync(path.join(consumer, 'node_modules', absent)), `${absent} is not installed in production`)
  }

  // 2. Types: the consumer uses the public entry the way a host app would, and must be refused a wrong use.
  writeFileSync(path.join(consumer, 'consumer.ts'), `
import amorce, { createServer, defaultSteps, loadConfig, ConfigError, type AdminStore, type AmorceOptions, type AppConfig, type DatabaseProvider } from 'amorce'

const admin: AdminStore = {
  create: async (_db, a) => ({ id: 1, username: a.username, email: a.email, passwordHash: a.passwordHash }),
  find: async () => null,
  setPassword: async () => {},
  list: async () => []
}
const options: AmorceOptions = {
  name: 'Consumer', root: process.cwd(), admin, steps: defaultSteps,
  schema: { client: async () => class { constructor (_options: { adapter: unknown }) {} } },
  async app (fastify) { fastify.get('/hello', async (_req, reply) => reply.page('error', { status: 404, messageKey: 'errors.notFound' }, 404)) }
}
export async function run (): Promise<string> {
  const config: AppConfig = await loadConfig({ DATA_DIR: 'data' })
  const app = await createServer({ ...options, env: { DATA_DIR: 'data' }, logger: false })
  const provider: DatabaseProvider | undefined = app.amorce.config.values.databaseProvider
  await app.close()
  return \`\${config.port} \${app.amorce.mode} \${provider ?? 'none'} \${typeof amorce}\`
}
export const isConfigError = (err: unknown): boolean => err instanceof ConfigError
// @ts-expect-error: AmorceOptions has no such option
export const wrong: AmorceOptions = { name: 'x', root: '/', admin, schema: options.schema, port: 3000 }
`)
  writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
      skipLibCheck: false, types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')]
    },
    files: ['consumer.ts']
  }))
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', consumer], { encoding: 'utf8' })
  check(tsc.status === 0, `a TypeScript consumer of 'amorce' compiles against the published types${tsc.status === 0 ? '' : ':\n' + tsc.stdout + tsc.stderr}`)

  // 3. The compiled server, from node_modules, on a fresh directory.
  const server = spawn(process.execPath, [path.join(installed, 'dist/server/main.js')], {
    cwd: consumer,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_OPTIONS: '', DATA_DIR: path.join(consumer, 'data'), ENV_FILE: path.join(consumer, '.env') },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  try {
    let out = ''
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start in 30 s:\n${out}`)), 30_000)
      const onData = (d: Buffer) => {
        out += d
        const m = /waiting at (http:\/\/\S+?)\/?\n/.exec(out)
        if (m) { clearTimeout(timer); resolve(m[1].replace('localhost', '127.0.0.1')) }
      }
      server.stdout.on('data', onData)
      server.stderr.on('data', onData)
      server.once('exit', code => { clearTimeout(timer); reject(new Error(`server exited (${code}):\n${out}`)) })
    })
    const page = await fetch(`${url}/`)
    const html = await page.text()
    check(page.status === 200 && /name="token"/.test(html), `the installed server serves the wizard (${page.url}: ${page.status})`)
    const health = await (await fetch(`${url}/health`)).json()
    check(health.status === 'setup', `/health says ${JSON.stringify(health)}`)

    // 4. The replay without playwright-core.
    const answers = path.join(consumer, 'answers.json')
    writeFileSync(answers, JSON.stringify({ version: 1, language: 'fr', database: { provider: 'sqlite', file: 'data/app.db' }, cache: { backend: 'memory' }, restore: null, admin: { username: 'admin', email: 'admin@example.com', password: 'Lanterne-Ardoise-Moulin-42' } }))
    const replay = spawnSync(process.execPath, [path.join(installed, 'dist/server/replay/cli.js'), answers, '--url', url, '--token', 'x'], { cwd: consumer, encoding: 'utf8' })
    check(replay.status === 3 && /playwright-core/.test(replay.stderr) && /npm install --no-save playwright-core/.test(replay.stderr),
      `the replay without playwright-core exits ${replay.status}: ${replay.stderr.trim().split('\n')[0]}`)
  } finally {
    server.kill('SIGTERM')
  }

  // 5. The operator's command, once the package declares it.
  const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'))
  if (pkg.bin?.amorce) {
    const npx = execFileSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--no-install', 'amorce', '--version'], { cwd: consumer, encoding: 'utf8' }).trim()
    check(npx.includes(pkg.version), `npx amorce --version: ${npx}`)
  } else {
    console.log('- no bin "amorce" in package.json yet: npx amorce --version not checked')
  }
}

try {
  await main()
} catch (err) {
  console.error(err)
  failed = true
} finally {
  if (keep) console.log(`kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0
