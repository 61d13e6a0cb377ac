/** What the session's parts (fetch, websocket, rpc) share with its core. */
import type ReconnectingWebSocket from 'reconnecting-websocket';
import type { NormalizedOptions } from './options.js';
import type { SessionEvents } from './events.js';

export interface Core {
  readonly o: NormalizedOptions;
  /** The token in memory (never a storage read). */
  readonly token: string | null;
  /** Resolves once a token is loaded or obtained (or a renewal in flight is done); rejects when the endpoint cannot be reached. */
  ready(): Promise<string | null>;
  /** Single flight, across tabs: renew the token `stale` unless it has been replaced already. */
  renew(stale?: string | null): Promise<string | null>;
  /** Keep a token from a header or the RPC notification (persist, tell the other tabs). */
  take(token: string, expiresAt?: number): void;
  emit<K extends keyof SessionEvents>(name: K, payload?: SessionEvents[K]): void;
  /**
   * Sockets the session keeps open (and closes at logout), each with the function that ends its wait between two
   * attempts; a socket closed by the app or given up on leaves it.
   */
  readonly live: Map<ReconnectingWebSocket, () => void>;
}

export const noop = () => {};
export const BEARER = 'Bearer ';
