/**
 * Just enough IndexedDB for idb-keyval in Node (which has none), so the client's real key store runs in the msw
 * tests: databases of object stores, values structured-cloned on the way in and out as IndexedDB does (a CryptoKey
 * survives, a function throws DataCloneError), every answer in a later task. The browser tests use the real thing.
 */
type Handler = ((this: unknown) => void) | null;

interface FakeRequest {
  result?: unknown;
  error?: unknown;
  onsuccess: Handler;
  onerror: Handler;
  oncomplete?: Handler;
  onabort?: Handler;
  onupgradeneeded?: Handler;
}

const later = (fn: () => void) => setTimeout(fn, 0);

function request(run: () => unknown): FakeRequest {
  const r: FakeRequest = { onsuccess: null, onerror: null };
  later(() => {
    try {
      r.result = run();
      r.onsuccess?.call(r);
    } catch (e) {
      r.error = e;
      r.onerror?.call(r);
    }
  });
  return r;
}

export interface FakeIndexedDB {
  databases: Map<string, Map<string, Map<unknown, unknown>>>;
  /** Delete one value, as a user clearing site data (or the engine evicting it) would. */
  remove(db: string, key: string): void;
  /** Put it back on globalThis as it was. */
  uninstall(): void;
}

export function installFakeIndexedDB(): FakeIndexedDB {
  const databases = new Map<string, Map<string, Map<unknown, unknown>>>();
  const had = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB');
  const database = (stores: Map<string, Map<unknown, unknown>>) => ({
    onclose: null,
    createObjectStore: (s: string) => stores.set(s, new Map()),
    transaction(s: string) {
      const tx: FakeRequest = { onsuccess: null, onerror: null, oncomplete: null, onabort: null };
      const map = stores.get(s)!;
      let pending = 0;
      const op = (run: () => unknown) => {
        pending++;
        const q = request(run);
        later(() => {
          if (--pending == 0) later(() => tx.oncomplete?.call(tx));
        });
        return q;
      };
      const store = {
        transaction: tx,
        get: (k: unknown) => op(() => structuredClone(map.get(k))),
        put(v: unknown, k: unknown) {
          // IndexedDB clones synchronously: a value it cannot clone throws here (DataCloneError).
          const copy = structuredClone(v);
          return op(() => void map.set(k, copy));
        },
        delete: (k: unknown) => op(() => void map.delete(k)),
      };
      return { objectStore: () => store };
    },
  });
  const open = (name: string) => {
    const r: FakeRequest = { onsuccess: null, onerror: null, onupgradeneeded: null };
    later(() => {
      const fresh = !databases.has(name);
      if (fresh) databases.set(name, new Map());
      r.result = database(databases.get(name)!);
      if (fresh) r.onupgradeneeded?.call(r);
      r.onsuccess?.call(r);
    });
    return r;
  };
  Object.defineProperty(globalThis, 'indexedDB', { value: { open }, configurable: true, writable: true });
  return {
    databases,
    remove: (db, key) => void databases.get(db)?.forEach((m) => m.delete(key)),
    uninstall() {
      if (had) Object.defineProperty(globalThis, 'indexedDB', had);
      else delete (globalThis as { indexedDB?: unknown }).indexedDB;
    },
  };
}
