// Amorce's own static files (public/: the stylesheet and the wizard's two scripts) under `<basePath>/public/`.
// A few lines instead of @fastify/static, whose loading (glob, send, mime) was a tenth of a cold start for
// three small files. Validators (ETag, Last-Modified) and an hour of caching, as before; only regular files
// inside the directory, no dotfiles, no directory listing.
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff'
}

export interface StaticOptions {
  /** the directory served */
  root: string
  /** seconds a browser may keep a file without asking again */
  maxAge: number
}

interface Entry { mtimeMs: number, size: number, body: Buffer, etag: string, lastModified: string }

/** The file a request names, inside `root`, or undefined (outside it, a dotfile, not decodable). */
export function staticFile (root: string, requested: string): string | undefined {
  let decoded: string
  try { decoded = decodeURIComponent(requested) } catch { return undefined }
  if (decoded === '' || decoded.includes('\0') || decoded.includes('\\')) return undefined
  const segments = decoded.split('/')
  if (segments.some(s => s === '' || s.startsWith('.'))) return undefined
  const file = path.join(root, ...segments)
  const relative = path.relative(root, file)
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined
  return file
}

export default async function staticFiles (app: FastifyInstance, opts: StaticOptions): Promise<void> {
  const root = path.resolve(opts.root)
  // Read once per version of a file (its size and mtime): a deployed package's files never change, a
  // developer's edit is served at the next request.
  const cache = new Map<string, Entry>()
  const cacheControl = `public, max-age=${opts.maxAge}`

  app.get('/public/*', async (req, reply) => {
    const file = staticFile(root, (req.params as { '*': string })['*'])
    const info = file ? await stat(file).catch(() => null) : null
    if (!file || !info?.isFile()) return reply.callNotFound()
    let entry = cache.get(file)
    if (!entry || entry.mtimeMs !== info.mtimeMs || entry.size !== info.size) {
      const body = await readFile(file)
      entry = { mtimeMs: info.mtimeMs, size: info.size, body, etag: `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`, lastModified: info.mtime.toUTCString() }
      cache.set(file, entry)
    }
    reply
      .header('cache-control', cacheControl)
      .header('etag', entry.etag)
      .header('last-modified', entry.lastModified)
      .type(TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream')
    const ifNoneMatch = req.headers['if-none-match']
    const ifModifiedSince = req.headers['if-modified-since']
    const fresh = ifNoneMatch !== undefined
      ? ifNoneMatch.split(',').some(tag => tag.trim() === entry.etag || tag.trim() === '*')
      : ifModifiedSince !== undefined && Date.parse(ifModifiedSince) >= Math.floor(entry.mtimeMs / 1000) * 1000
    if (fresh) return reply.code(304).send()
    return reply.send(entry.body)
  })
}
