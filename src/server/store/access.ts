/**
 * Promise access to any express-session Store, with its failures turned into typed errors: a store error is
 * never read as "no session" (which would silently start a new one), and a disconnected store says so.
 */
import { HybridSessionError } from '../../shared/errors.js';
import type { Store } from '../types.js';
import { PROBE_SESSION_ID, StoreProbe } from './probe.js';

export type SessionData = Record<string, unknown> & { cookie?: Record<string, unknown> };

/** Error names/codes that mean "cannot reach the store" rather than "the store broke" (node-redis, sockets). */
const DISCONNECTED_NAMES = new Set(['ClientClosedError', 'ClientOfflineError', 'ConnectionTimeoutError', 'SocketClosedUnexpectedlyError', 'ReconnectStrategyError']);
const DISCONNECTED_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'NR_CLOSED', 'CONNECTION_BROKEN']);

export function isDisconnectedError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; disconnected?: unknown; message?: unknown };
  // node-redis's error classes do not set `name`: their constructor's name is what tells them apart.
  const ctor = (err as { constructor?: { name?: unknown } }).constructor?.name;
  return (
    e.disconnected === true ||
    (typeof e.name === 'string' && DISCONNECTED_NAMES.has(e.name)) ||
    (typeof ctor === 'string' && DISCONNECTED_NAMES.has(ctor)) ||
    (typeof e.code === 'string' && DISCONNECTED_CODES.has(e.code)) ||
    (typeof e.message === 'string' && /client is (closed|offline)|socket closed unexpectedly|connection (is closed|timeout)|not connected/i.test(e.message))
  );
}

export function storeError(err: unknown, op: string): HybridSessionError {
  if (err instanceof HybridSessionError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return isDisconnectedError(err)
    ? new HybridSessionError('HS_ERR_STORE_UNAVAILABLE', `session store unavailable (${op}): ${detail}`, { cause: err })
    : new HybridSessionError('HS_ERR_STORE', `session store failed (${op}): ${detail}`, { cause: err });
}

export interface StoreAccess {
  readonly store: Store;
  /**
   * false from the store's 'disconnect' until its 'connect' event or the first answer to the probe (store/probe.ts),
   * whichever comes first (express-session's storeReady, which waits for 'connect' alone).
   */
  readonly ready: boolean;
  get(sid: string): Promise<SessionData | null>;
  set(sid: string, sess: object): Promise<void>;
  destroy(sid: string): Promise<void>;
  /** store.touch when it has one; false when it has none (the caller decides what else to do). */
  touch(sid: string, sess: object): Promise<boolean>;
  /** The store's own compare-and-set (see update.ts), or undefined. */
  readonly compareAndSet: ((sid: string, expectedVersion: number, sess: object) => Promise<boolean>) | undefined;
  unavailable(): HybridSessionError;
  dispose(): void;
}

/**
 * Calls a callback-style store method once, tolerating sync throws, sync callbacks and double callbacks. After
 * `timeout` ms (0: never) without an answer it fails as unavailable; a late answer is then ignored (a late write
 * may still land in the store: the caller was told it failed, so it retries rather than assuming it did).
 */
function call<T>(op: string, timeout: number, fn: (cb: (err?: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    if (timeout > 0) {
      timer = setTimeout(() => {
        if (done) return;
        done = true;
        reject(new HybridSessionError('HS_ERR_STORE_UNAVAILABLE', `session store unavailable (${op}): no answer within ${timeout} ms`));
      }, timeout);
    }
    try {
      fn((err, value) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        if (err) reject(storeError(err, op));
        else resolve(value);
      });
    } catch (err) {
      if (!done) {
        done = true;
        if (timer) clearTimeout(timer);
        reject(storeError(err, op));
      }
    }
  });
}

/** express-session: ENOENT from a store (session-file-store's missing file) means "no such session", not a failure. */
function isNoSuchSession(err: unknown): boolean {
  const cause = (err as HybridSessionError | undefined)?.cause as { code?: unknown } | undefined;
  return cause?.code === 'ENOENT';
}

export function storeAccess(store: Store, timeout = 0): StoreAccess {
  let ready = true;
  // After a disconnect the store is asked by the probe alone (store/probe.ts) until it answers or says `connect`.
  const probe = new StoreProbe(
    (probeTimeout) => call('get', probeTimeout, (cb) => store.get(PROBE_SESSION_ID, cb as never)).catch((err: HybridSessionError) => {
      if (!isNoSuchSession(err)) throw err;
    }),
    () => {
      ready = true;
    },
    timeout,
  );
  const onDisconnect = () => {
    ready = false;
    probe.start();
  };
  const onConnect = () => {
    ready = true;
    probe.reset();
  };
  const emitter = store as unknown as { on?: Function; off?: Function; removeListener?: Function };
  if (typeof emitter.on === 'function') {
    emitter.on.call(store, 'disconnect', onDisconnect);
    emitter.on.call(store, 'connect', onConnect);
  }
  const s = store as unknown as Record<string, Function | undefined>;
  const cas = s.compareAndSet;
  return {
    store,
    get ready() {
      return ready;
    },
    async get(sid) {
      try {
        const value = await call<SessionData | null>('get', timeout, (cb) => store.get(sid, cb as never));
        // A record without a cookie was written by neither express-session nor hybrid-session: read as no session
        // (express-session answers 500 for it; served, it would be a session that never expires).
        return value && typeof value === 'object' && typeof value.cookie === 'object' && value.cookie !== null ? value : null;
      } catch (err) {
        if (isNoSuchSession(err)) return null;
        throw err;
      }
    },
    async set(sid, sess) {
      await call('set', timeout, (cb) => store.set(sid, sess as never, cb as never));
    },
    async destroy(sid) {
      await call('destroy', timeout, (cb) => store.destroy(sid, cb as never));
    },
    async touch(sid, sess) {
      if (typeof s.touch !== 'function') return false;
      await call('touch', timeout, (cb) => s.touch!.call(store, sid, sess, cb));
      return true;
    },
    compareAndSet:
      typeof cas === 'function'
        ? async (sid, expected, sess) => (await call<boolean>('compareAndSet', timeout, (cb) => cas.call(store, sid, expected, sess, cb))) === true
        : undefined,
    unavailable() {
      return new HybridSessionError('HS_ERR_STORE_UNAVAILABLE', 'session store unavailable: it reported a disconnect');
    },
    dispose() {
      probe.stop();
      const off = emitter.off ?? emitter.removeListener;
      if (typeof off === 'function') {
        off.call(store, 'disconnect', onDisconnect);
        off.call(store, 'connect', onConnect);
      }
    },
  };
}
