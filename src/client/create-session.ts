/**
 * createSession: the token's state in one tab and the public API around it. Renewal is renew.ts, the timer,
 * wake-ups and tab channel are background.ts, the token endpoint's requests endpoint.ts.
 *
 * Every way a token arrives (the endpoint, a Session-Token header, the RPC notification, storage, another tab)
 * goes through one check: its shape (version prefix included), the logout epoch, and its API.
 */
import { isWellFormedToken } from '../shared/protocol.js';
import { createBackground } from './background.js';
import { createBinding } from './binding.js';
import { noop, type Core } from './core.js';
import { tokenRequest } from './endpoint.js';
import { createEmitter, type Listener, type SessionEvents } from './events.js';
import { createFetch } from './fetch.js';
import { normalizeOptions, type SessionOptions, type StorageName } from './options.js';
import { createRenewal, type RenewalHost } from './renew.js';
import { createRpc } from './rpc.js';
import type { ReconnectingSocket, SocketOptions } from './socket.js';
import { createTokenStore, isPendingLogout, type Entry } from './storage/fallback.js';
import { indexedDBStorage } from './storage/indexeddb.js';
import { createWebSocket } from './websocket.js';

export interface Session {
  /** The token, from memory (no storage read), or null before ready() / after logout(). */
  readonly token: string | null;
  /** When the token expires (ms since epoch, this device's clock), when known. */
  readonly expiresAt: number | null;
  /** The backend in use: 'indexedDB' | 'localStorage' | 'memory' | 'custom'. */
  readonly storage: StorageName;
  /** The token is bound to this device's key (DPoP): a copy of it is useless anywhere else. */
  readonly bound: boolean;
  /** The token from storage, else from the endpoint; rejects (HS_ERR_NETWORK, …) when neither is there. */
  ready(): Promise<string | null>;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** A WebSocket that reconnects, offering the token of that moment on every (re)connect (websocket.ts). */
  websocket(urlOrPath: string | URL, protocols?: string | string[], options?: SocketOptions): ReconnectingSocket;
  rpc<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
  on<K extends keyof SessionEvents>(name: K, listener: Listener<K>): () => void;
  /** A new token for the session now (one request across tabs). */
  renew(): Promise<string | null>;
  /**
   * Ends the session on the server (DELETE), and in every tab: storage, memory, sockets. When the server cannot be
   * reached it rejects (HS_ERR_NETWORK), and the logout stays pending in storage: retried when the network is back,
   * and sent before anything else by the next ready(), in any tab or after a reload.
   */
  logout(): Promise<void>;
  /** Drops the token here (memory and storage) without ending the session; the next ready() asks for a new one. */
  forget(): Promise<void>;
}

/**
 * ms between tries of a timed renewal that failed (well inside the server's 60 s rotation grace): with the same
 * token, as the server answers a lost answer with the token it already issued, so retrying never looks like reuse.
 */
const RETRY = 5000;

export function createSession(options: SessionOptions): Session {
  const o = normalizeOptions(options);
  const api = o.url.origin;
  const { on, emit } = createEmitter();
  let token: string | null = null;
  let expiresAt = 0;
  let renewAt = 0;
  let bound: boolean | undefined = false;
  let epoch = 0;
  const live: Core['live'] = new Map();
  const report = (e: SessionEvents['error']) => emit('error', e);

  const store = createTokenStore(o.storage, o.key, api, (change) => emit('storage', change), () => {
    if (token) return [token, expiresAt, renewAt, bound];
    return host.ending == null ? null : [host.ending, -1, 0];
  });

  // The key lives in IndexedDB whatever holds the token: only IndexedDB can keep a CryptoKey (structured clone).
  const binding = createBinding(indexedDBStorage(o.key), o.key, (change) => emit('binding', change), o.binding);

  /** Replace the token in memory; the timer follows. */
  const set = (e: Entry | null) => {
    if ((e?.[0] ?? null) == token && !!e?.[3] == bound) return;
    [token, expiresAt, renewAt, bound] = e ?? [null, 0, 0];
    background.schedule(renewAt);
    if (token) emit('token', token);
  };

  const host: RenewalHost = {
    options: o,
    store,
    binding,
    get token() {
      return token;
    },
    get epoch() {
      return epoch;
    },
    ending: null,
    set,
    async keep(e) {
      if (e[0] == token && !!e[3] == bound) return;
      set(e);
      await store.write();
      background.post(e);
    },
    emit,
  };
  const renewal = createRenewal(host);
  const renew = renewal.renew;

  // Renew at half-life: the server's "nears expiry" point, so an open app never holds a dead token.
  const due = () => {
    if (host.ending != null) renewal.finishLogout().catch(noop);
    if (!token || !renewAt) return;
    if (Date.now() < renewAt) return background.schedule(renewAt);
    renew().catch((e) => {
      report(e);
      if (token) background.schedule(Date.now() + RETRY);
    });
  };

  const drop = (from: SessionEvents['logout']['from']) => {
    epoch++;
    set(null);
    // Another tab deletes the key once the server confirmed; this one forgets it, so the next session gets the next key.
    if (from != 'this-tab') binding.drop();
    live.forEach((_, ws) => ws.close());
    emit('logout', { from });
  };

  const background = createBackground(o.key, api, {
    due,
    wake: () => live.forEach((wake) => wake()),
    tab(e) {
      if (e) set(e);
      else drop('another-tab');
    },
    report,
  });

  const adopt: Core['adopt'] = (t, serverExpiresAt, at) => {
    if (!isWellFormedToken(t)) return;
    // Asked for before a logout, answered after it (a login in flight): not kept, and that session is ended too,
    // or the login's cookie would sign this device back in.
    if (at != epoch) {
      // Signed in again since: that session is not this one; just end the late one.
      if (token) return void tokenRequest(o, binding, 'DELETE', t).catch(noop);
      // Else ended as a logout the server has not confirmed (it replaces an older pending one: the login ended that
      // session), so every token request waits for this DELETE: none can reach the login's cookie first, however
      // slowly the server ends it, and a DELETE that fails is retried.
      host.ending = t;
      return void store.write().then(renewal.finishLogout).catch(noop);
    }
    // The same device, the same key: a token for the session (a login's new id) is bound as the one it replaces.
    host.keep(renewal.entry(t, serverExpiresAt, !!bound)).catch(report);
  };

  // A stored token already expired is renewed before anything uses it: only the endpoint sees it (and says expired).
  const loaded = store.load().then((e) => {
    if (isPendingLogout(e)) host.ending = e[0];
    else if (!token) set(e);
    // (A failure reaches the 'error' event once, through the start's ready() below, which waits for this renewal.)
    if (expiresAt && expiresAt <= Date.now()) renew().catch(noop);
  });
  const ready = () => {
    const p = loaded.then(() => renewal.inflight || token || renew());
    // One hop more than the caller's `await`: its continuation runs first, then the background starts in that task.
    const start = () => Promise.resolve().then(background.start);
    p.then(start, start);
    return p;
  };

  const core: Core = {
    options: o,
    get token() {
      return token;
    },
    get bound() {
      return !!bound;
    },
    binding,
    get epoch() {
      return epoch;
    },
    ready,
    renew,
    adopt,
    emit,
    live,
  };
  const websocket = createWebSocket(core);

  // Start now: the storage event (if any) comes after createSession returns, and the token is there sooner.
  ready().catch(report);

  return {
    get token() {
      return token;
    },
    get expiresAt() {
      return expiresAt || null;
    },
    get storage() {
      return store.name;
    },
    get bound() {
      return !!bound;
    },
    ready,
    fetch: createFetch(core),
    websocket,
    rpc: createRpc(core, websocket),
    on,
    renew: () => renew(),
    async logout() {
      // Remembered before anything goes out: if the network is down or the page dies, the next ready() (in any tab,
      // after a reload) sends this DELETE before it asks for a token, so the next person on a shared device does not
      // land in this session.
      if (token) host.ending = token;
      else host.ending ??= '';
      drop('this-tab');
      background.post(null);
      await store.write();
      await renewal.finishLogout();
    },
    async forget() {
      set(null);
      await store.write();
    },
  };
}
