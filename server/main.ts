// Entry point of `npm start`: the reference app (server/app/) started as `amorce start` starts it.
import { start } from './start.ts'
import reference from './app/index.ts'

await start(reference)
