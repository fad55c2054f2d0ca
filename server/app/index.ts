// The reference app, the one `npm start` installs and serves: its administrators' sign-in, a dashboard, an
// instance setting and the backup download. A host app like any other, built on Amorce's public entries
// (server/index.ts; its normal mode on server/core.ts, which leaves the wizard's steps out) and its own files
// only; a test holds it to that.
import type { AmorceOptions } from '../index.ts'
import { adminStore } from './admin-store.ts'
import { root } from './root.ts'
import routes from './routes.ts'
import { referenceSchema } from './schema.ts'

const reference: AmorceOptions = {
  name: 'Amorce',
  root,
  schema: referenceSchema,
  admin: adminStore,
  app: routes
}

export default reference
