import { createStore, del, get, set } from 'idb-keyval';
import type { TokenStorage } from '../options.js';

/**
 * One database per key (named after it, as is its one object store). idb-keyval opens it on first use, and drops a
 * connection Safari closes: an `indexedDB.open` that throws or never answers is caught by the fallback's bound.
 */
export const indexedDBStorage = (name: string): TokenStorage => {
  const store = createStore(name, name);
  return { get: (k) => get(k, store), set: (k, v) => set(k, v, store), del: (k) => del(k, store) };
};
