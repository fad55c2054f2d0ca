// Startup file for Phusion Passenger (cPanel's "Setup Node.js App": Application startup file =
// server/passenger.cjs). Passenger require()s its startup file, so this CommonJS shim imports the
// compiled ES module entry point (dist/, built by `npm install` in a clone, shipped in the package).
// Passenger hands the app its socket through its own listen() hook and sets PASSENGER_BASE_URI,
// which becomes BASE_PATH when that is not set.
import('../dist/server/main.js')
  .catch(err => {
    console.error(err)
    process.exit(1)
  })
