/**
 * What SocketStream apps call on `req.session` beyond express-session: `save(cb)` that also returns a promise, and
 * `setUserId(id, cb)`. Both transports (a route's req.session, an RPC's req.use('session')) share this file.
 *
 * After setUserId the session has a new id. The object the app already holds cannot change its id (express-session
 * makes `id` read-only), so it is kept as a mirror: its data follows the new session and its save() writes there,
 * so code that saves the old reference after signing in never resurrects the old id.
 */
import { VERSION_KEY, type SessionObject } from '../server/index.js';

export type Callback = (err?: unknown) => void;

/** Which object a save() really writes, shared by every object that stood for this session during one request. */
export interface SessionBinding {
  current: SessionObject;
}

/** express-session's Session#save(cb) as a promise, whatever the object's own save returns. */
export function saveSession(session: SessionObject, originalSave: Function): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
    try {
      const r = originalSave.call(session, done);
      if (r && r !== session && typeof (r as PromiseLike<unknown>).then === 'function') (r as PromiseLike<unknown>).then(() => done(), done);
    } catch (err) {
      done(err);
    }
  });
}

/** The session's data without its cookie and version (the new id has its own of both): what moves at setUserId. */
export function sessionData(session: object): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(session)) if (key !== 'cookie' && key !== VERSION_KEY) data[key] = value;
  return data;
}

function define(obj: object, name: string, value: Function): void {
  Object.defineProperty(obj, name, { configurable: true, enumerable: false, writable: true, value });
}

/** Callback style and promise style at once, as SocketStream's callbacks and modern `await` both expect. */
function withCallback<T>(promise: Promise<T>, cb: unknown): Promise<T> {
  if (typeof cb === 'function') promise.then(() => (cb as Callback)(null), (err) => (cb as Callback)(err));
  // The promise is returned too; with a callback given, an unobserved rejection must not crash the process.
  if (typeof cb === 'function') promise.catch(() => {});
  return promise;
}

export interface SessionMethodHooks {
  /**
   * Moves the session to a new id: keeps `data` (null: signs out, an empty session), moves the calling connection
   * only (the session's other sockets close 4401) and tells it the new token. Resolves to the new session object.
   */
  changeUser(from: SessionObject, data: Record<string, unknown> | null): Promise<SessionObject>;
  /** Tracks work res.end() must wait for (a route's response carries the new cookie and token). */
  track?(work: Promise<unknown>): void;
}

/**
 * Adds save(cb) → promise and setUserId(id, cb) → promise to `session` (non-enumerable: never stored).
 * `binding` is shared with the objects that replace it after setUserId.
 */
export function decorateSession(session: SessionObject, binding: SessionBinding, hooks: SessionMethodHooks): SessionObject {
  const ownSave = session.save as Function;
  const originalSave = (ownSave as { __hsOriginal?: Function }).__hsOriginal ?? ownSave;

  const save = function (this: unknown, cb?: Callback) {
    const target = binding.current;
    let work: Promise<void>;
    if (target === session) {
      work = saveSession(session, originalSave);
    } else {
      // A stale reference after setUserId: write its data to where the session now lives.
      Object.assign(target, sessionData(session));
      work = (target.save as unknown as (cb?: Callback) => Promise<void>)();
    }
    hooks.track?.(work);
    return withCallback(work, cb);
  };
  (save as { __hsOriginal?: Function }).__hsOriginal = originalSave;
  define(session, 'save', save);

  define(session, 'setUserId', function setUserId(userId: unknown, cb?: Callback) {
    const work = (async () => {
      const from = binding.current;
      let data: Record<string, unknown> | null = null;
      if (userId !== null && userId !== undefined) {
        if (typeof userId !== 'string' && typeof userId !== 'number') throw new TypeError('setUserId(id): id must be a string, a number or null');
        data = { ...sessionData(from), ...sessionData(session), userId };
      }
      const next = await hooks.changeUser(from, data);
      decorateSession(next, binding, hooks);
      binding.current = next;
      // Keep the references the app holds in step with the new session.
      for (const obj of new Set([session, from])) {
        for (const key of Object.keys(obj)) if (key !== 'cookie') delete (obj as Record<string, unknown>)[key];
        Object.assign(obj, sessionData(next));
      }
      return next;
    })();
    hooks.track?.(work);
    return withCallback(work, cb);
  });
  return session;
}
