/**
 * The backend in use and its fallback. Every operation is bounded in time; one that throws, rejects or hangs moves
 * the session along IndexedDB → localStorage → memory (a custom TokenStorage falls back to memory), carries the
 * token over and reports a `storage` change, never an exception. `'auto'` also follows the server's hint.
 *
 * Layout, in any backend: the token under `key` (plain, so it can be seeded or inspected), and
 * `expiresAt,renewAt,apiOrigin,bound` under `key + '.expiry'` (ms since epoch, on this device's clock; bound `1` when
 * the token is bound to the device's key), so a reloaded page renews on time without asking the server first, sends
 * proofs with a bound token, and never sends a token another API left under the same key. A logout the server has not confirmed yet is kept as the entry [bearer to end it with ('' for none), -1, 0]:
 * the next ready(), in any tab or after a reload, sends that DELETE before asking for anything.
 */
import { HybridSessionError } from '../../shared/errors.js';
import { isWellFormedToken, STORAGE_HINTS, type StorageHint } from '../../shared/protocol.js';
import type { StorageChange } from '../events.js';
import { later } from '../later.js';
import type { StorageName, TokenStorage } from '../options.js';
import { indexedDBStorage } from './indexeddb.js';
import { localStorageStorage } from './local-storage.js';
import { memoryStorage } from './memory.js';

/**
 * What is kept: [token, expiresAt, renewAt] (0 when unknown) and whether the token is bound (DESIGN "Device
 * binding": the endpoint said `bound: true`, so it goes out with `Authorization: DPoP` and a proof), or a pending
 * logout: [bearer, -1, 0].
 */
export type Entry = [token: string, expiresAt: number, renewAt: number, bound?: boolean];

/** A logout the server has not confirmed: the bearer to end the session with ('' when there was only the cookie). */
export const isPendingLogout = (e: Entry | null): e is Entry => !!e && e[1] < 0;

/** Some iOS webviews never answer indexedDB.open: an operation not done by then counts as failed. */
const BOUND = 1500;
const TIMEOUT = new Error('timeout');

export interface TokenStore {
  readonly name: StorageName;
  /** Read the entry (in 'auto', also where a hint may have moved it); prove an empty backend with a write. */
  load(): Promise<Entry | null>;
  read(): Promise<Entry | null>;
  /** Persist the current entry, or delete it when there is none. */
  write(): Promise<unknown>;
  /** The server's storage hint (applied in 'auto' only, never back to a backend that failed). */
  hint(to: StorageHint): void;
}

export function createTokenStore(
  choice: 'auto' | StorageHint | TokenStorage,
  key: string,
  api: string,
  changed: (change: StorageChange) => void,
  current: () => Entry | null,
): TokenStore {
  const expiryKey = key + '.expiry';
  const failed = new Set<StorageName>();
  const make = (n: StorageName) => (n == 'indexedDB' ? indexedDBStorage(key) : n == 'localStorage' ? localStorageStorage : memoryStorage);
  let name: StorageName = typeof choice == 'object' ? 'custom' : choice == 'auto' ? 'indexedDB' : choice;
  let backend = typeof choice == 'object' ? choice : make(name);

  // localStorage and memory answer synchronously (or throw): they cannot hang, so they need no timer.
  const bounded = <T>(b: TokenStorage, op: (s: TokenStorage) => T): Promise<Awaited<T>> => {
    const p = Promise.resolve(b).then(op) as Promise<Awaited<T>>;
    return b == localStorageStorage || b == memoryStorage ? p : Promise.race([p, new Promise<never>((_, reject) => later(() => reject(TIMEOUT), BOUND))]);
  };

  const use = (to: StorageName, reason?: StorageChange['reason'], error?: unknown) => {
    const from = name;
    name = to;
    backend = make(to);
    if (reason) {
      changed(reason == 'hint' ? { from, to, reason } : { from, to, reason, error: new HybridSessionError('HS_ERR_STORAGE', `${from}: ${reason}`, { cause: error }) });
      store.write();
    }
  };

  const run = <T>(op: (s: TokenStorage) => T): Promise<Awaited<T>> => {
    const b = backend;
    return bounded(b, op).catch((error) => {
      // Concurrent failures of one backend move the session one step, not one step each.
      if (b == backend) {
        failed.add(name);
        use(
          name == 'custom' ? 'memory' : STORAGE_HINTS[STORAGE_HINTS.indexOf(name) + 1],
          error == TIMEOUT ? 'timeout' : 'error',
          error,
        );
      }
      return run(op);
    });
  };

  const both = (s: TokenStorage) => Promise.all([s.get(key), s.get(expiryKey)]);
  const parse = ([t, m]: unknown[]): Entry | null => {
    const [e, r, from, b] = String(m).split(',');
    // Issued by another API (same key): not ours to send. An entry from before the origin was kept is taken as ours.
    if (from && from != api) return null;
    if (+e < 0) return typeof t == 'string' ? [t, -1, 0] : null;
    // A corrupt token (or one without the version prefix) is dropped here: the session asks for a new one.
    return isWellFormedToken(t) ? [t, +e || 0, +r || 0, !!b] : null;
  };

  const store: TokenStore = {
    get name() {
      return name;
    },
    async load() {
      let entry = await store.read();
      // A token read back proves the backend (it was written there); a write that fails later still falls back.
      // Only an empty one is proved with a write now, before the endpoint's token has to be kept in it.
      if (!entry) {
        const before = backend;
        await run(async (s) => {
          await s.set(key + '.probe', '1');
          await s.del(key + '.probe');
        });
        if (backend != before) entry = await store.read();
      }
      if (!entry && choice == 'auto' && name == 'indexedDB') {
        // A server hint may have moved the token to localStorage on an earlier visit.
        entry = await bounded(localStorageStorage, both).then(parse, () => null);
        if (entry) use('localStorage');
      }
      return entry;
    },
    read: () => run(both).then(parse),
    write: () =>
      run((s) => {
        const c = current();
        return c ? Promise.all([s.set(key, c[0]), s.set(expiryKey, [c[1], c[2], api, c[3] ? 1 : ''].join())]) : Promise.all([s.del(key), s.del(expiryKey)]);
      }),
    hint(to) {
      if (choice == 'auto' && to != name && STORAGE_HINTS.includes(to) && !failed.has(to)) {
        const old = backend;
        use(to, 'hint');
        bounded(old, (s) => Promise.all([s.del(key), s.del(expiryKey)])).catch(() => 0);
      }
    },
  };
  return store;
}
