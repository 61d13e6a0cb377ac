/**
 * What the SocketStream facade (src/socketstream) needs of the server beyond its public surface (index.ts): option
 * defaults and keys (so its settings map every server option) and the connect-redis compare-and-set it adds to the
 * store it builds. Not in package.json's "exports": these are not a public API, and may change with the server.
 * src/socketstream imports only index.ts and this file (an ESLint rule in eslint.config.js holds it to that).
 */
export { DEFAULT_MAX_AGE, SERVER_OPTION_KEYS } from './options.js';
export { addRedisCompareAndSet, looksLikeConnectRedis, type ConnectRedisLike } from './store/compare-and-set.js';
