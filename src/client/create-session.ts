/**
 * createSession: the token's life in one tab (load, renew on time, pick up, hand to fetch and websockets, log out)
 * and its sharing with the other tabs of the origin.
 */
import type ReconnectingWebSocket from 'reconnecting-websocket';
import type { Options } from 'reconnecting-websocket';
import { HybridSessionError } from '../shared/errors.js';
import { HEADERS, isWellFormedToken, type TokenResponse } from '../shared/protocol.js';
import { BEARER, noop, type Core } from './core.js';
import { createEmitter, type Listener, type SessionEvents } from './events.js';
import { createFetch } from './fetch.js';
import { later } from './later.js';
import { withLock } from './lock.js';
import { normalizeOptions, type SessionOptions, type StorageName } from './options.js';
import { createRpc } from './rpc.js';
import { createTokenStore, type Entry } from './storage/fallback.js';
import { createTabSync, type TabMessage } from './tab-sync.js';
import { createWebSocket } from './websocket.js';

export interface Session {
  /** The token, from memory (no storage read), or null before ready() / after logout(). */
  readonly token: string | null;
  /** When the token expires (ms since epoch), when known. */
  readonly expiresAt: number | null;
  /** The backend in use: 'indexedDB' | 'localStorage' | 'memory' | 'custom'. */
  readonly storage: StorageName;
  /** The token from storage, else from the endpoint; rejects (HS_ERR_NETWORK) when neither is there. */
  ready(): Promise<string | null>;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  websocket(urlOrPath: string | URL, protocols?: string | string[], options?: Options): ReconnectingWebSocket;
  rpc<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
  on<K extends keyof SessionEvents>(name: K, listener: Listener<K>): () => void;
  /** A new token for the session now (one request across tabs). */
  renew(): Promise<string | null>;
  /** Ends the session on the server (DELETE), and in every tab: storage, memory, sockets. */
  logout(): Promise<void>;
  /** Drops the token here (memory and storage) without ending the session; the next ready() asks for a new one. */
  forget(): Promise<void>;
}

/** ms between tries of a timed renewal that failed (well inside the server's 60 s rotation grace). */
const RETRY = 5000;

export function createSession(options: SessionOptions): Session {
  const o = normalizeOptions(options);
  const { on, emit } = createEmitter();
  let token: string | null = null;
  let expiresAt = 0;
  let renewAt = 0;
  /** Lifetime of the last token the endpoint issued: times the ones that come without an expiry (header). */
  let life = 0;
  /** Bumped by logout: a renewal answered after it is dropped. */
  let epoch = 0;
  let inflight: Promise<string | null> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Posts to the other tabs; set once the session is up (see tabs below). */
  let channel: ((m: TabMessage) => void) | undefined;
  const live: Core['live'] = new Map();
  const report = (e: HybridSessionError) => emit('error', e);
  const auth = (t: string | null): Record<string, string> => (t ? { [HEADERS.authorization]: BEARER + t } : {});
  const current = (): Entry | null => (token ? [token, expiresAt, renewAt] : null);

  const store = createTokenStore(o.storage, o.key, (change) => emit('storage', change), current);

  const schedule = () => {
    clearTimeout(timer);
    if (token && renewAt) timer = later(check, renewAt - Date.now());
  };
  // Renew at half-life: the server's "nears expiry" point, so an open app never holds a dead token.
  const check = () => {
    if (token && renewAt) {
      if (Date.now() < renewAt) schedule();
      // A renewal that failed (offline, its answer lost) is tried again with the same token: the server answers a
      // lost answer with the token it already issued, so retrying never looks like reuse.
      else renew().catch((e) => (report(e), clearTimeout(timer), (timer = later(check, RETRY))));
    }
  };

  const set = (e: Entry | null) => {
    if ((e && e[0]) == token) return;
    [token, expiresAt, renewAt] = e ?? [null, 0, 0];
    // Before the session is up, tabs() arms the renewal timer.
    if (channel) schedule();
    if (token) emit('token', token);
  };

  /** A token from the endpoint, a Session-Token header or the RPC notification: keep it, persist it, share it. */
  const keep = async (t: string, exp?: number) => {
    if (t == token) return;
    const now = Date.now();
    if (exp) life = exp - now;
    set([t, exp || (life && now + life), life ? now + life / 2 : renewAt]);
    await store.write();
    post(current());
  };

  const drop = () => {
    epoch++;
    set(null);
    live.forEach((_, ws) => ws.close());
    emit('logout');
  };

  // Cordova's resume, the page shown again, the network back: renew if due, reconnect sockets that are down now.
  const doc = globalThis.document;
  const wake = () => {
    if (doc?.visibilityState != 'hidden') {
      check();
      live.forEach((wake) => wake());
    }
  };

  /**
   * The renewal timer, the channel to the other tabs and the wake-up listeners are set up right after ready()
   * resolved for its callers (see ready below), or at the first post, so ready() waits for none of them (the
   * channel's constructor alone costs about as much as reading localStorage). Timers and events are tasks, so none
   * fires late by then; what another tab posts before the channel opens is not lost for good: a renewal here
   * re-reads storage under the lock first.
   */
  const tabs = () =>
    (channel ||= (schedule(),
    globalThis.addEventListener?.('online', wake),
    doc?.addEventListener('visibilitychange', wake),
    doc?.addEventListener('resume', wake),
    createTabSync(o.key, (m) => (m ? set(m) : drop()))));
  const post = (m: TabMessage) => tabs()(m);

  const renew = (stale = token): Promise<string | null> =>
    (inflight ||= withLock(o.key, async () => {
      const at = epoch;
      if (token != stale) return;
      // Another tab may have renewed while this one waited for the lock: take its token rather than ask again.
      const stored = await store.read();
      if (stored && stored[0] != stale) return set(stored);
      let body: TokenResponse | undefined;
      let status;
      /** The server ended the session (a rotated-out copy of its token was used elsewhere): start over. */
      let ended = false;
      try {
        let res = await fetch(o.tokenUrl, { method: 'POST', credentials: 'include', headers: auth(stale) });
        // The endpoint ignores invalid bearers, so its 401 invalid_token means reuse (HS_ERR_TOKEN_REUSED): the
        // session is gone everywhere; a request without the dead token makes a new one, reported as `expired`.
        if (res.status == 401 && stale && /invalid_token/.test(res.headers.get(HEADERS.wwwAuthenticate) || '')) {
          ended = true;
          res = await fetch(o.tokenUrl, { method: 'POST', credentials: 'include' });
        }
        status = res.status;
        if (res.ok) body = await res.json();
      } catch (cause) {
        // Offline is not logged out: the token stays.
        throw new HybridSessionError('HS_ERR_NETWORK', 'POST', { cause });
      }
      if (!isWellFormedToken(body?.token)) throw new HybridSessionError('HS_ERR_NETWORK', 'POST', { status });
      // Logged out meanwhile, or a newer token came in (a login's Session-Token): that one wins.
      if (at != epoch || token != stale) return;
      store.hint(body.storage);
      await keep(body.token, body.expiresAt);
      // The server made a new session although this tab held a token: the old one is gone.
      if ((body.created || ended) && stale) emit('expired');
    })
      .then(() => token)
      .finally(() => (inflight = null)));

  // A stored token already expired is renewed before anything uses it: only the endpoint sees it (and says expired).
  const loaded = store.load().then((e) => {
    if (!token) set(e);
    // (A failure reaches the 'error' event once, through the start's ready() below, which waits for this renewal.)
    if (expiresAt && expiresAt <= Date.now()) renew().catch(noop);
  });
  const ready = () => {
    const p = loaded.then(() => inflight || token || renew());
    // One hop more than the caller's `await`: its continuation runs first, then tabs() in the same task.
    const open = () => Promise.resolve().then(tabs);
    p.then(open, open);
    return p;
  };

  const core: Core = {
    o,
    get token() {
      return token;
    },
    ready,
    renew,
    take: (t, exp) => void keep(t, exp),
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
    ready,
    fetch: createFetch(core),
    websocket,
    rpc: createRpc(core, websocket),
    on,
    renew: () => renew(),
    async logout() {
      const t = token;
      drop();
      post(null);
      await store.write();
      try {
        await fetch(o.tokenUrl, { method: 'DELETE', credentials: 'include', headers: auth(t) });
      } catch (cause) {
        throw new HybridSessionError('HS_ERR_NETWORK', 'DELETE', { cause });
      }
    },
    async forget() {
      set(null);
      await store.write();
    },
  };
}
