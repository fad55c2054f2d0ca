// The package's public entry (`import { buildApp } from 'amorce'`): the app factory and the types a host
// needs to call it and read its state. Everything else under dist/ is internal and may change in any release.
export { buildApp, type BuildOptions } from './app.ts'
export { ConfigError, loadConfig, type AppConfig, type AppLocale, type CacheBackend, type ConfigValues, type DatabaseProvider } from './config/config.ts'
export type { AppState, Mode, SetupState } from './state.ts'
