// Entry point of `npm start`: the same start as `amorce start` (server/start.ts).
import { start } from './start.ts'

await start()
