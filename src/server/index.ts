/**
 * `hybrid-session/server`: one server session over the httpOnly cookie, a bearer token and websockets.
 * The whole public surface is here.
 */
export { hybridSession } from './create.js';
export { MemoryStore, type MemoryStoreOptions } from './store/memory-store.js';
export { VERSION_KEY } from './store/update.js';
export { HybridSessionError, isHybridSessionError, ERROR_CODES, type HybridSessionErrorCode } from '../shared/errors.js';
export { SUBPROTOCOL, BEARER_PREFIX, CLOSE_CODES, HEADERS, TOKEN_PATH } from '../shared/protocol.js';
export type {
  AuthenticatedRequest,
  CookieOptions,
  HybridSession,
  HybridSessionOptions,
  IssuedToken,
  Middleware,
  NextFunction,
  NormalizedPublicOptions,
  RegeneratedSession,
  ReuseEvent,
  SessionHandle,
  SessionObject,
} from './types.js';
import './augment.js';
