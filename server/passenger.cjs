// Startup file for Phusion Passenger (cPanel's "Setup Node.js App": Application startup file =
// server/passenger.cjs). Passenger require()s its startup file, so this CommonJS shim registers
// tsx's loader (what `node --import tsx` does for npm start) and imports the real entry point.
// Passenger hands the app its socket through its own listen() hook and sets PASSENGER_BASE_URI,
// which becomes BASE_PATH when that is not set.
import('tsx/esm/api')
  .then(({ register }) => {
    register()
    return import('./main.ts')
  })
  .catch(err => {
    console.error(err)
    process.exit(1)
  })
