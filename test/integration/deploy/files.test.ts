// The deploy files work as written: the VPS nginx site passes a real `nginx -t` before any certificate exists,
// both nginx files accept uploads up to BACKUP_MAX_BYTES' default, the systemd unit is hardened (rated by
// `systemd-analyze security --offline`) without what breaks V8, and Render and Docker run node 24 directly.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { DEFAULT_MAX_ARCHIVE_BYTES } from '../../../server/backup/format.ts'
import { NGINX, nginxAvailable } from '../../helpers/nginx.ts'
import { repoRoot } from '../../helpers/server.ts'
import { requireService } from '../../helpers/services.ts'
import { tempDir } from '../../helpers/tmp.ts'

const deploy = (name: string) => path.join(repoRoot, 'docs/deploy', name)

/** `nginx -t` on a site file, included in a minimal main config whose files all live in a temp prefix. */
async function nginxTest (dir: string, site: string): Promise<{ ok: boolean, out: string }> {
  const prefix = path.join(dir, 'nginx')
  await mkdir(prefix, { recursive: true })
  const conf = path.join(prefix, 'nginx.conf')
  await writeFile(conf, `pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events {}
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  include ${site};
}
`)
  const r = spawnSync(NGINX!, ['-t', '-c', conf, '-p', prefix, '-e', path.join(prefix, 'error.log')], { encoding: 'utf8' })
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

function nginxBytes (size: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(size)!
  return Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g']
}

test('the VPS site passes nginx -t before certbot has made any certificate (a TLS site would not)', async t => {
  if (!nginxAvailable(t)) return
  const dir = await tempDir(t)
  const site = await nginxTest(dir, deploy('nginx-vps.conf'))
  assert.ok(site.ok, site.out)
  assert.doesNotMatch(readFileSync(deploy('nginx-vps.conf'), 'utf8').replace(/#.*$/gm, ''), /ssl_certificate|listen 443/)
  // The check itself: the same site with TLS before the certificate exists fails, as it did before.
  const tls = path.join(dir, 'tls.conf')
  await writeFile(tls, readFileSync(deploy('nginx-vps.conf'), 'utf8').replace('listen 80;', `listen 443 ssl;\n  ssl_certificate ${dir}/none/fullchain.pem;\n  ssl_certificate_key ${dir}/none/privkey.pem;`))
  const failed = await nginxTest(dir, tls)
  assert.equal(failed.ok, false)
  assert.match(failed.out, /cannot load certificate/)
})

test('both nginx files accept a backup upload as large as BACKUP_MAX_BYTES allows by default', () => {
  for (const name of ['nginx-vps.conf', 'nginx-docker.conf']) {
    const sizes = [...readFileSync(deploy(name), 'utf8').matchAll(/^\s*client_max_body_size\s+(\S+);/gm)].map(m => nginxBytes(m[1]))
    assert.deepEqual(sizes, [DEFAULT_MAX_ARCHIVE_BYTES], name)
  }
})

test('the systemd unit is sandboxed (systemd-analyze security ≤ 2.0) and runs node itself, without MemoryDenyWriteExecute', t => {
  const unit = readFileSync(deploy('amorce.service'), 'utf8')
  const directives = new Map(unit.split('\n').filter(l => /^\w+=/.test(l)).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  assert.match(directives.get('ExecStart')!, /^\/usr\/bin\/node (?!.*npm)/)
  assert.equal(directives.has('MemoryDenyWriteExecute'), false, 'V8 needs writable-then-executable memory')
  assert.equal(directives.get('ProtectSystem'), 'strict')
  const writable = directives.get('ReadWritePaths')!.split(/\s+/)
  for (const key of ['DATA_DIR', 'ENV_FILE']) {
    const value = /Environment=(\w+)=(\S+)/g
    const set = [...unit.matchAll(value)].find(m => m[1] === key)![2]
    const dir = key === 'ENV_FILE' ? path.posix.dirname(set) : set
    assert.ok(writable.includes(dir), `${key}'s directory ${dir} is writable`)
  }
  for (const [key, expected] of [['NoNewPrivileges', 'true'], ['PrivateTmp', 'true'], ['ProtectHome', 'true'], ['RestartPreventExitStatus', '78']]) {
    assert.equal(directives.get(key), expected, key)
  }
  assert.deepEqual(directives.get('RestrictAddressFamilies')!.split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'])

  const analyze = spawnSync('systemd-analyze', ['--version'])
  if (!requireService(t, 'systemd-analyze', analyze.status === 0, 'apt-get install -y systemd')) return
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', deploy('amorce.service')], { encoding: 'utf8' })
  const score = /Overall exposure level for amorce\.service: ([\d.]+)/.exec(r.stdout)
  assert.ok(score, r.stdout + r.stderr)
  assert.ok(Number(score[1]) <= 2.0, `exposure ${score[1]}`)
})

test('Render and Docker run a maintained LTS (Node 24), and Render starts node directly so SIGTERM reaches it', () => {
  const render = readFileSync(path.join(repoRoot, 'render.yaml'), 'utf8')
  assert.match(render, /^\s+startCommand: node \S+$/m)
  assert.match(render, /- key: NODE_VERSION\n\s+value: "24"/)
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')
  const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map(m => m[1])
  assert.ok(from.length > 0 && from.every(image => /^node:24-/.test(image)), from.join(', '))
  assert.match(dockerfile, /^CMD \["node",/m)
})
