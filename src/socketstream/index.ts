/**
 * `hybrid-session/socketstream`: SocketStream's session API (ss.set, ss.session, ss.http.route, ss.rpc.actions,
 * ss.start) on hybrid-session, so the examples of SocketStream's session docs run with only the import changed.
 */
export { createSocketStream, MAX_RPC_MESSAGE } from './ss.js';
export type { SocketStream, StartOptions, Middleware } from './ss.js';
export type {
  SocketStreamOptions,
  SocketStreamSettings,
  SocketStreamSessionOptions,
  SocketStreamCookieOptions,
  SocketStreamWsOptions,
} from './settings.js';
export { DEFAULT_MAX_AGE, DEFAULT_WS_PATH } from './settings.js';
export type { RedisConfig } from './store.js';
export type { RouteHandler } from './http-route.js';
export type { ActionModule, RpcRequest, RpcRespond, RpcMiddleware, JsonRpcResponse, JsonRpcError } from './rpc.js';
