/**
 * update(fn): read-modify-write that loses nothing. A version number kept in the session data (session-meta.ts)
 * makes each write
 * a compare-and-set: with a store that has `compareAndSet(sid, expectedVersion, sess, cb)` (the default memory
 * store; a Redis store can add one) it is atomic across processes; with any other store the writes of this process
 * are serialized by a per-session lock (re-read, apply, write), which is exact within one process.
 */
import { HybridSessionError } from '../../shared/errors.js';
import type { SessionData, StoreAccess } from './access.js';
import { META_KEY, nextVersion, versionOf, withVersion } from './session-meta.js';

/**
 * The session-data key the library owns (the version lives in it, with the rest of session-meta.ts). Exported
 * under its old name, which apps and tests use to leave it out of what they copy.
 */
export const VERSION_KEY = META_KEY;
const MAX_ATTEMPTS = 50;

/** Per-process, per-session mutex: a promise chain per id, dropped when idle. */
export class KeyedLock {
  private tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export interface UpdateDeps {
  access: StoreAccess;
  lock: KeyedLock;
}

/**
 * Applies `fn` to a fresh copy of the stored session (made into a Session by `inflate`) and writes it with the
 * version bumped; retried from a fresh read when another writer got there first.
 *
 * `read`: a copy (the caller's own, it is consumed) of the data the caller has just read. With a compare-and-set the
 * first attempt starts from it instead of reading again, one store round trip less (issue 17): a copy gone stale
 * fails the version check and the retry reads afresh. Without one it is ignored (the read must be under the lock).
 */
export async function updateSession<S extends Record<string, unknown>>(
  deps: UpdateDeps,
  sid: string,
  inflate: (data: SessionData) => S,
  fn: (session: S) => unknown,
  read?: SessionData,
): Promise<S> {
  if (typeof fn !== 'function') throw new TypeError('update(fn): fn must be a function');
  return deps.lock.run(sid, async () => {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const data = attempt === 0 && read !== undefined && deps.access.compareAndSet ? read : await deps.access.get(sid);
      // Ended meanwhile (lifecycle.ts): never written back. On a store without compare-and-set this read and the
      // write below run under the lock that ending a session takes too.
      if (!data) throw new HybridSessionError('HS_ERR_SESSION_ENDED', 'update(): the session has ended (destroyed, regenerated, revoked or expired): nothing was written');
      const expected = versionOf(data);
      const sess = inflate(data);
      await fn(sess);
      // Written whole, from the validated reading: anything fn or a client left under the key is replaced.
      withVersion(sess, nextVersion(expected));
      if (!deps.access.compareAndSet) {
        await deps.access.set(sid, sess);
        return sess;
      }
      if (await deps.access.compareAndSet(sid, expected, sess)) return sess;
      // Another process wrote in between: back off a little (jittered) and apply fn again to what it wrote.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new HybridSessionError('HS_ERR_CONFLICT', `update(): gave up after ${MAX_ATTEMPTS} conflicting writes`);
  });
}
