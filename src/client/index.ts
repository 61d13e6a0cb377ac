/** The browser client: the whole public surface (also `window.HybridSession` in the script-tag build). */
export { createSession, type Session } from './create-session.js';
export type { SessionOptions, TokenStorage, StorageName } from './options.js';
export type { SessionEvents, StorageChange, LogoutEvent } from './events.js';
export type { ReconnectingSocket, SocketOptions } from './socket.js';
export { HybridSessionError, isHybridSessionError, type HybridSessionErrorCode } from '../shared/errors.js';
export { CLOSE_CODES, SUBPROTOCOL } from '../shared/protocol.js';
