/** The browser client: the whole public surface (also `window.HybridSession` in the script-tag build). */
export { createSession, type Session } from './create-session.js';
export type { SessionOptions, TokenStorage, StorageName } from './options.js';
export type { SessionEvents, StorageChange } from './events.js';
export { HybridSessionError, isHybridSessionError, type HybridSessionErrorCode } from '../shared/errors.js';
export { SUBPROTOCOL } from '../shared/protocol.js';
