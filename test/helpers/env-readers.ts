// The `.env` readers a deployment may use, to test that they all read the wizard's file alike:
// - systemdEnvironmentFile: a port of systemd's EnvironmentFile= parser (src/basic/env-file.c,
//   parse_env_file_internal + load_env_file_push, as documented in systemd.exec(5)), since systemd cannot
//   run as PID 1 here. `version` picks the comment rule: before v254 a comment line ending in a backslash
//   continues onto the next line; from v254 it does not.
// - nodeEnvFile: the real `node --env-file`, in a child process with an empty environment.
// - dockerEnvFile: the real Docker CLI (`docker create --env-file`), talking to a stand-in daemon on a Unix
//   socket that records the container's Env: the CLI parses the file itself (docker/cli opts/file.go) and
//   sends the result, so no Docker daemon is needed.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

const NEWLINE = '\n\r'
const WHITESPACE = ' \t\n\r'
const COMMENTS = '#;'
const SHELL_NEED_ESCAPE = '"\\`$'

/** systemd's unichar_is_valid over a whole value (utf8_is_valid): false makes the whole file fail to load. */
function systemdValidUtf8 (text: string): boolean {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!
    if (cp >= 0xd800 && cp <= 0xdfff) return false // not encodable: the bytes would be invalid UTF-8
    if (cp >= 0xfdd0 && cp <= 0xfdef) return false
    if ((cp & 0xfffe) === 0xfffe) return false
  }
  return true
}

/** env_name_is_valid: [A-Za-z_][A-Za-z0-9_]*; invalid assignments are dropped when the unit's environment is built. */
function systemdValidName (name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
}

export class SystemdEnvFileError extends Error {}

/** The environment a unit gets from EnvironmentFile=<text>; throws SystemdEnvFileError where systemd refuses the file. */
export function systemdEnvironmentFile (text: string, version = 254): Record<string, string> {
  type State = 'PRE_KEY' | 'KEY' | 'PRE_VALUE' | 'VALUE' | 'VALUE_ESCAPE' | 'SINGLE_QUOTE_VALUE' | 'DOUBLE_QUOTE_VALUE' | 'DOUBLE_QUOTE_VALUE_ESCAPE' | 'COMMENT' | 'COMMENT_ESCAPE'
  const out: Record<string, string> = {}
  let state: State = 'PRE_KEY'
  let key = ''
  let value = ''
  let lastKeyWhitespace = -1
  let lastValueWhitespace = -1
  const push = () => {
    const k = lastKeyWhitespace === -1 ? key : key.slice(0, lastKeyWhitespace)
    if (!systemdValidUtf8(k) || !systemdValidUtf8(value)) throw new SystemdEnvFileError(`invalid UTF-8 in ${k}`)
    // strv_env_replace_consume: a later assignment replaces an earlier one.
    if (systemdValidName(k)) out[k] = value
    key = ''
    value = ''
  }
  // The C code reads bytes up to the first NUL; every character it tests is ASCII, so code units do the same.
  const end = text.indexOf('\0')
  const contents = end === -1 ? text : text.slice(0, end)
  for (const c of contents) {
    switch (state) {
      case 'PRE_KEY':
        if (COMMENTS.includes(c)) state = 'COMMENT'
        else if (!WHITESPACE.includes(c)) {
          state = 'KEY'
          lastKeyWhitespace = -1
          key += c
        }
        break
      case 'KEY':
        if (NEWLINE.includes(c)) {
          state = 'PRE_KEY'
          key = ''
        } else if (c === '=') {
          state = 'PRE_VALUE'
          lastValueWhitespace = -1
        } else {
          if (!WHITESPACE.includes(c)) lastKeyWhitespace = -1
          else if (lastKeyWhitespace === -1) lastKeyWhitespace = key.length
          key += c
        }
        break
      case 'PRE_VALUE':
        if (NEWLINE.includes(c)) {
          state = 'PRE_KEY'
          push()
        } else if (c === "'") state = 'SINGLE_QUOTE_VALUE'
        else if (c === '"') state = 'DOUBLE_QUOTE_VALUE'
        else if (c === '\\') state = 'VALUE_ESCAPE'
        else if (!WHITESPACE.includes(c)) {
          state = 'VALUE'
          value += c
        }
        break
      case 'VALUE':
        if (NEWLINE.includes(c)) {
          state = 'PRE_KEY'
          if (lastValueWhitespace !== -1) value = value.slice(0, lastValueWhitespace)
          push()
        } else if (c === '\\') {
          state = 'VALUE_ESCAPE'
          lastValueWhitespace = -1
        } else {
          if (!WHITESPACE.includes(c)) lastValueWhitespace = -1
          else if (lastValueWhitespace === -1) lastValueWhitespace = value.length
          value += c
        }
        break
      case 'VALUE_ESCAPE':
        state = 'VALUE'
        // An escaped newline is a continuation: eaten entirely.
        if (!NEWLINE.includes(c)) value += c
        break
      case 'SINGLE_QUOTE_VALUE':
        if (c === "'") state = 'PRE_VALUE'
        else value += c
        break
      case 'DOUBLE_QUOTE_VALUE':
        if (c === '"') state = 'PRE_VALUE'
        else if (c === '\\') state = 'DOUBLE_QUOTE_VALUE_ESCAPE'
        else value += c
        break
      case 'DOUBLE_QUOTE_VALUE_ESCAPE':
        state = 'DOUBLE_QUOTE_VALUE'
        if (SHELL_NEED_ESCAPE.includes(c)) value += c
        else if (c !== '\n') value += '\\' + c
        break
      case 'COMMENT':
        if (c === '\\') state = 'COMMENT_ESCAPE'
        else if (NEWLINE.includes(c)) state = 'PRE_KEY'
        break
      case 'COMMENT_ESCAPE':
        // v254 (commit "env-file: do not continue a comment line ending in a backslash"): a newline ends it.
        state = version >= 254 && NEWLINE.includes(c) ? 'PRE_KEY' : 'COMMENT'
        break
    }
  }
  if (['PRE_VALUE', 'VALUE', 'VALUE_ESCAPE', 'SINGLE_QUOTE_VALUE', 'DOUBLE_QUOTE_VALUE', 'DOUBLE_QUOTE_VALUE_ESCAPE'].includes(state)) {
    if (state === 'VALUE' && lastValueWhitespace !== -1) value = value.slice(0, lastValueWhitespace)
    push()
  }
  return out
}

async function withFile<T> (text: string, run: (file: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'amorce-env-'))
  try {
    const file = path.join(dir, 'app.env')
    await writeFile(file, text)
    return await run(file, dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function run (command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** What `node --env-file=<file>` puts in process.env (the keys the file sets; the environment is otherwise empty). */
export function nodeEnvFile (text: string): Promise<Record<string, string>> {
  return withFile(text, async file => {
    const r = await run(process.execPath, [`--env-file=${file}`, '-e', 'process.stdout.write(JSON.stringify(process.env))'], {})
    if (r.code !== 0) throw new Error(`node --env-file failed: ${r.stderr}`)
    return JSON.parse(r.stdout)
  })
}

export function dockerAvailable (): Promise<boolean> {
  return run('docker', ['--version'], { PATH: process.env.PATH }).then(r => r.code === 0, () => false)
}

export class DockerEnvFileError extends Error {}

/** The Env a container would get from `docker create --env-file <file>`; throws DockerEnvFileError where the CLI refuses the file. */
export function dockerEnvFile (text: string): Promise<Record<string, string>> {
  return withFile(text, async (file, dir) => {
    const socket = path.join(dir, 'docker.sock')
    let env: string[] | undefined
    const daemon = createServer((req, res) => {
      let body = ''
      req.on('data', d => { body += d })
      req.on('end', () => {
        res.setHeader('Api-Version', '1.47')
        res.setHeader('Content-Type', 'application/json')
        if (req.url?.endsWith('/_ping')) return res.end('OK')
        if (req.method === 'POST' && /\/containers\/create/.test(req.url ?? '')) {
          env = JSON.parse(body).Env ?? []
          res.statusCode = 201
          return res.end(JSON.stringify({ Id: 'a'.repeat(64), Warnings: [] }))
        }
        res.statusCode = 404
        res.end(JSON.stringify({ message: `not emulated: ${req.method} ${req.url}` }))
      })
    })
    daemon.listen(socket)
    await once(daemon, 'listening')
    try {
      const r = await run('docker', ['create', '--env-file', file, 'amorce-test-image'], { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'docker-config') })
      if (env === undefined) throw new DockerEnvFileError(`docker refused the file: ${r.stderr.trim()}`)
      const out: Record<string, string> = {}
      for (const line of env) {
        const at = line.indexOf('=')
        out[line.slice(0, at)] = line.slice(at + 1)
      }
      return out
    } finally {
      daemon.close()
    }
  })
}
