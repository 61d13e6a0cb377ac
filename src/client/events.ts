/** The session's events: a listener set per name; `on` returns its own unsubscribe function. */
import type { HybridSessionError } from '../shared/errors.js';
import type { BindingChange } from './binding.js';
import type { StorageName } from './options.js';

export interface StorageChange {
  from: StorageName;
  to: StorageName;
  /** 'hint': the server asked for another backend; 'timeout': the backend did not answer; 'error': it threw. */
  reason: 'hint' | 'timeout' | 'error';
  /** HS_ERR_STORAGE, its `cause` what the backend threw (for 'timeout' and 'error'). */
  error?: HybridSessionError;
}

export interface LogoutEvent {
  /** 'this-tab': logout() was called here; 'another-tab': in another tab of the origin. */
  from: 'this-tab' | 'another-tab';
}

export interface SessionEvents {
  /** A new token: from the endpoint, a `Session-Token` header, another tab or the RPC notification. */
  token: string;
  /** The server no longer knew the session: the token now names a new one (or a websocket gave up). */
  expired: undefined;
  /** logout() here or in another tab: the token is gone and the sockets are closed. */
  logout: LogoutEvent;
  storage: StorageChange;
  /** No key can be kept here (no crypto.subtle, IndexedDB failing or hanging, a key it cannot store): tokens stay unbound. */
  binding: BindingChange;
  /** A background failure (timer renewal, first token request, a socket given up, a malformed tab message): never thrown into the app. */
  error: HybridSessionError;
}

export type Listener<K extends keyof SessionEvents> = (payload: SessionEvents[K]) => void;

export function createEmitter() {
  const all: Record<string, Set<(payload: never) => void>> = {};
  return {
    on<K extends keyof SessionEvents>(name: K, fn: Listener<K>): () => void {
      (all[name] ??= new Set()).add(fn);
      return () => void all[name].delete(fn);
    },
    emit<K extends keyof SessionEvents>(name: K, payload?: SessionEvents[K]): void {
      all[name]?.forEach((fn) => {
        try {
          (fn as Listener<K>)(payload as SessionEvents[K]);
        } catch (e) {
          // A listener's bug is reported as the DOM reports one (uncaught), and the session carries on.
          setTimeout(() => {
            throw e;
          });
        }
      });
    },
  };
}
