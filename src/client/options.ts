/** The options createSession takes, and their one normalisation (as express-session and ky read options once). */
import { HybridSessionError } from '../shared/errors.js';
import { STORAGE_HINTS, TOKEN_PATH, type StorageHint } from '../shared/protocol.js';

/**
 * Where the token is kept: any key-value store, so Capacitor Preferences, a Keychain plugin or Cordova NativeStorage
 * plug in. Methods may return a promise or a plain value; one that throws, rejects or does not answer in time makes
 * the session fall back to memory (with a `storage` event).
 */
export interface TokenStorage {
  get(key: string): Promise<string | null | undefined> | string | null | undefined;
  set(key: string, value: string): Promise<unknown> | unknown;
  del(key: string): Promise<unknown> | unknown;
}

/** The backend in use: `session.storage`. */
export type StorageName = StorageHint | 'custom';

export interface SessionOptions {
  /** The API server; the token is attached to its origin only (and to `attachTo`). Relative paths resolve against it. */
  url: string | URL;
  /** Default `/session/token`. */
  tokenPath?: string;
  /** Default `'auto'`: the server's hint, else IndexedDB → localStorage → memory. */
  storage?: 'auto' | StorageHint | TokenStorage;
  /**
   * Storage key, IndexedDB database, BroadcastChannel and lock name. Default `'hybrid-session:' + the API's origin`,
   * so two sessions for two APIs on one page origin never share a slot. A stored token also names the API that
   * issued it: one stored under the same key by another API is dropped, never sent.
   */
  key?: string;
  /** Extra origins that receive the token (exact origin match). */
  attachTo?: string[];
  /** Websocket path of session.rpc (the SocketStream facade's). Default `/ws`. */
  rpcPath?: string;
  /** ms before session.rpc rejects with HS_ERR_RPC_TIMEOUT. Default 10 000. */
  rpcTimeout?: number;
  /**
   * ms a token request (POST or DELETE to tokenPath) may take, connect and whole answer; past it, it fails with
   * HS_ERR_NETWORK and the next caller starts a new one. Default 10 000.
   */
  timeout?: number;
  /**
   * Default `'auto'`: the token is bound to a non-extractable key kept in IndexedDB (DPoP proofs, RFC 9449) where the
   * engine allows it and the server binds; `false`: never a key, plain bearer tokens.
   */
  binding?: 'auto' | false;
}

export interface NormalizedOptions {
  readonly url: URL;
  readonly tokenUrl: string;
  /** tokenPath as resolved, for error messages (`POST /session/token: 503`). */
  readonly tokenPath: string;
  readonly storage: 'auto' | StorageHint | TokenStorage;
  readonly key: string;
  /** The API's origin and the attachTo origins. */
  readonly origins: ReadonlySet<string>;
  readonly rpcPath: string;
  readonly rpcTimeout: number;
  readonly timeout: number;
  readonly binding: boolean;
}

export function normalizeOptions(o: SessionOptions): NormalizedOptions {
  try {
    const url = new URL(o.url);
    const storage = o.storage ?? 'auto';
    const valid =
      typeof storage == 'object'
        ? [storage.get, storage.set, storage.del].every((f) => typeof f == 'function')
        : storage == 'auto' || STORAGE_HINTS.includes(storage);
    if (!valid) throw storage;
    // Not frozen: readonly in the types is enough for an object that never leaves the session, and freezing it was a
    // measurable part of createSession's first call.
    const tokenUrl = new URL(o.tokenPath ?? TOKEN_PATH, url);
    return {
      url,
      tokenUrl: tokenUrl.href,
      tokenPath: tokenUrl.pathname,
      storage,
      key: o.key ?? 'hybrid-session:' + url.origin,
      origins: new Set([url.origin, ...(o.attachTo ?? []).map((a) => new URL(a).origin)]),
      rpcPath: o.rpcPath ?? '/ws',
      rpcTimeout: o.rpcTimeout ?? 1e4,
      timeout: o.timeout ?? 1e4,
      binding: o.binding !== false,
    };
  } catch (cause) {
    throw new HybridSessionError('HS_ERR_INVALID_OPTIONS', 'options', { cause });
  }
}
