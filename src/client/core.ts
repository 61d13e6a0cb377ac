/** What the session's parts (fetch, websocket, rpc) share with its core. */
import type { Binding } from './binding.js';
import type { ReconnectingSocket } from './socket.js';
import type { NormalizedOptions } from './options.js';
import type { SessionEvents } from './events.js';

export interface Core {
  readonly options: NormalizedOptions;
  /** The token in memory (never a storage read). */
  readonly token: string | null;
  /** The token is bound to the device's key: it goes out as `DPoP`, beside a proof by `binding`. */
  readonly bound: boolean;
  readonly binding: Binding;
  /**
   * Bumped by every logout. A part reads it before it sends a request and hands it back with what the answer
   * brought (`adopt`): a token asked for before a logout and answered after it is never kept.
   */
  readonly epoch: number;
  /** Resolves once a token is loaded or obtained (or a renewal in flight is done); rejects when the endpoint cannot be reached. */
  ready(): Promise<string | null>;
  /** Single flight, across tabs: renew the token `stale` unless it has been replaced already. */
  renew(stale?: string | null): Promise<string | null>;
  /**
   * A token that came another way than the endpoint (a Session-Token header from the API's own origin, the RPC
   * notification): checked like every other (shape, epoch), then kept, persisted and told to the other tabs.
   * `expiresAt` is on the server's clock, as it was sent.
   */
  adopt(token: unknown, expiresAt: number | undefined, epoch: number): void;
  emit<K extends keyof SessionEvents>(name: K, payload?: SessionEvents[K]): void;
  /**
   * Sockets the session keeps open (and closes at logout), each with the function that ends its wait between two
   * attempts; a socket closed by the app or given up on leaves it.
   */
  readonly live: Map<ReconnectingSocket, () => void>;
}

export const noop = () => {};
export const BEARER = 'Bearer ';
