// Notes' definition for Amorce: what `amorce start` (package.json "amorce": { "app": "./dist/amorce.js" }) and
// `amorce backup|migrate|admin` load. Its default export is the options; `createServer(notes)` works as well.
import { fileURLToPath } from 'node:url'
import { defaultSteps, type AmorceOptions, type PrismaClientClass } from 'amorce'
import { notesAdminStore } from './admin-store.ts'
import notesApp from './app/plugin.ts'
import { siteStep } from './steps/site.ts'

const clients = {
  sqlite: () => import('./generated/sqlite/client.ts'),
  postgresql: () => import('./generated/postgresql/client.ts'),
  mysql: () => import('./generated/mysql/client.ts')
}

const notes: AmorceOptions = {
  name: 'Notes',
  // This module runs compiled as dist/amorce.js: the package root (prisma/, views/, locales/) is one level up.
  root: fileURLToPath(new URL('..', import.meta.url)),
  schema: {
    // One generated client per provider (`amorce dev generate`); only the configured one is ever loaded.
    // (PrismaClientClass types the constructor loosely, as `{ adapter: unknown }`: Prisma's own is stricter.)
    client: provider => clients[provider]().then(m => m.PrismaClient as unknown as PrismaClientClass),
    valueFormats: { 'User.passwordHash': 'argon2id' }
  },
  steps: [
    ...defaultSteps,
    siteStep
  ],
  admin: notesAdminStore,
  app: notesApp,
  languages: ['en', 'fr'],
  brand: { name: 'Notes' }
}

export default notes
