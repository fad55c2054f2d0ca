// A real nginx (Debian's package) in front of the app, on a free loopback port, with a generated
// config in a temp directory; stopped when the test ends.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { requireService } from './services.ts'
import { freePort } from './net.ts'

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(p => existsSync(p))

export function nginxAvailable (t: TestContext): boolean {
  return requireService(t, 'nginx', Boolean(NGINX), 'apt-get install -y nginx')
}

/** Starts nginx proxying `${location}` to the app; `extra` goes inside the location block. */
export async function startNginx (t: TestContext, dir: string, opts: { location: string, upstreamPort: number, extra?: string }): Promise<{ url: string, port: number }> {
  const port = await freePort()
  const root = path.join(dir, 'nginx')
  await mkdir(root, { recursive: true })
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
  t.after(() => { child.kill('SIGQUIT') })
  // Ready when it answers on its port.
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true) }).on('error', () => resolve(false))
    })
    if (ok) break
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${out}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { url: `http://127.0.0.1:${port}${opts.location}`, port }
}
