// A real nginx (Debian's package) in front of the app, on a loopback port of its own, with a generated
// config in a temp directory; stopped when the test ends.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { requireService } from './services.ts'
import { serverPortRetry } from './net.ts'

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(p => existsSync(p))

export function nginxAvailable (t: TestContext): boolean {
  return requireService(t, 'nginx', Boolean(NGINX), 'apt-get install -y nginx')
}

/** Starts nginx proxying `${location}` to the app; `extra` goes inside the location block. */
export async function startNginx (t: TestContext, dir: string, opts: { location: string, upstreamPort: number, extra?: string }): Promise<{ url: string, port: number }> {
  const root = path.join(dir, 'nginx')
  await mkdir(root, { recursive: true })
  return serverPortRetry(port => launchNginx(t, root, port, opts))
}

async function launchNginx (t: TestContext, root: string, port: number, opts: { location: string, upstreamPort: number, extra?: string }): Promise<{ url: string, port: number } | 'taken'> {
  const conf = `
worker_processes 1;
daemon off;
user root;
pid ${root}/nginx.pid;
error_log ${root}/error.log warn;
events { worker_connections 128; }
http {
  access_log ${root}/access.log;
  client_body_temp_path ${root}/body;
  proxy_temp_path ${root}/proxy;
  fastcgi_temp_path ${root}/fastcgi;
  uwsgi_temp_path ${root}/uwsgi;
  scgi_temp_path ${root}/scgi;
  server {
    listen 127.0.0.1:${port};
    location ${opts.location}/ {
      proxy_pass http://127.0.0.1:${opts.upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      ${opts.extra ?? ''}
    }
  }
}
`
  const file = path.join(root, 'nginx.conf')
  await writeFile(file, conf)
  const child = spawn(NGINX!, ['-c', file, '-p', root], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stderr.on('data', d => { out += d })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  t.after(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGQUIT'); await exited } })
  // Ready when it answers on its port (polled, with a deadline for a loaded machine).
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) {
      if (/Address already in use/.test(out)) return 'taken'
      throw new Error(`nginx exited: ${out}`)
    }
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true) }).on('error', () => resolve(false))
    })
    if (ok) break
    if (Date.now() > deadline) throw new Error(`nginx did not start in 60 s: ${out}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { url: `http://127.0.0.1:${port}${opts.location}`, port }
}
