// Kept for imports written before the router was named for what it is: see router.ts.
export { default, escapeHtml, formInput, type SetupRoutesOptions } from './router.ts'
