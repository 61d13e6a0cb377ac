/**
 * One renewal at a time across the tabs of an origin (Web Locks). A tab that cannot get the lock within WAIT runs
 * anyway, so a frozen or hung holder cannot block the others: no deadlock. Without Web Locks (older webviews, opaque
 * origins) it runs at once; the in-tab single flight and the re-read of storage still apply.
 */
import { later } from './later.js';

const WAIT = 5000;

export function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: Navigator }).navigator?.locks;
  if (!locks) return fn();
  let started = false;
  const abort = new AbortController();
  later(() => abort.abort(), WAIT);
  return locks
    .request(name, { signal: abort.signal }, () => {
      started = true;
      return fn();
    })
    .catch((e) => {
      if (started) throw e;
      return fn();
    });
}
