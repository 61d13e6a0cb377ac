/**
 * The default store: express-session compatible, for one process. Unlike express-session's MemoryStore it is
 * bounded (least recently active evicted first, so a flood of new sessions cannot grow memory without limit) and
 * expires sessions on a timer (unref'd: it never keeps the process alive), not only when they are read.
 * Its compareAndSet makes update() atomic without a lock (all of it runs synchronously on one thread).
 */
import session from 'express-session';
import { warnOnce } from '../warn.js';
import { versionOf } from './session-meta.js';

export interface MemoryStoreOptions {
  /** Most sessions kept; default 10 000. */
  max?: number;
  /** How often expired sessions are swept, in ms; default 60 000. */
  checkPeriod?: number;
}

interface Entry {
  json: string;
  /** ms since epoch, or Infinity for a session without expiry */
  expires: number;
  version: number;
}

type Callback<T = void> = (err?: unknown, value?: T) => void;

const defer = (fn: () => void) => setImmediate(fn);

function expiresOf(sess: { cookie?: { expires?: unknown } }): number {
  const e = sess.cookie?.expires;
  if (e instanceof Date) return e.getTime();
  if (typeof e === 'string') {
    const t = Date.parse(e);
    return Number.isNaN(t) ? Infinity : t;
  }
  return Infinity;
}

export class MemoryStore extends session.Store {
  readonly max: number;
  readonly checkPeriod: number;
  /** Insertion order is activity order: set/touch move an entry to the end, eviction takes from the front. */
  private sessions = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    const max = options.max ?? 10_000;
    const checkPeriod = options.checkPeriod ?? 60_000;
    if (!Number.isSafeInteger(max) || max < 1) throw new TypeError('MemoryStore: max must be a positive integer');
    if (!Number.isFinite(checkPeriod) || checkPeriod <= 0) throw new TypeError('MemoryStore: checkPeriod must be a positive number');
    this.max = max;
    this.checkPeriod = checkPeriod;
    if (process.env.NODE_ENV === 'production') {
      warnOnce(
        'HS_MEMORY_STORE',
        'hybrid-session: the default memory store keeps sessions in this process only (lost on restart, not shared between processes). Use a Redis store in production (connect-redis with node-redis).',
      );
    }
    this.timer = setInterval(() => this.prune(), checkPeriod);
    this.timer.unref();
  }

  /** Removes expired sessions now (the timer does this every checkPeriod). Emits 'expired' for each. */
  prune(now = Date.now()): void {
    for (const [sid, entry] of this.sessions) {
      if (entry.expires <= now) {
        this.sessions.delete(sid);
        this.emit('expired', sid);
      }
    }
  }

  /** Stops the sweep timer (hybridSession's close() does it for the store it made). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private live(sid: string): Entry | undefined {
    const entry = this.sessions.get(sid);
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      this.sessions.delete(sid);
      this.emit('expired', sid);
      return undefined;
    }
    return entry;
  }

  private write(sid: string, sess: session.SessionData & Record<string, unknown>): void {
    const entry: Entry = { json: JSON.stringify(sess), expires: expiresOf(sess), version: versionOf(sess) };
    this.sessions.delete(sid);
    this.sessions.set(sid, entry);
    while (this.sessions.size > this.max) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
      this.emit('evicted', oldest);
    }
  }

  override get(sid: string, callback: Callback<session.SessionData | null>): void {
    const entry = this.live(sid);
    const value = entry ? (JSON.parse(entry.json) as session.SessionData) : null;
    defer(() => callback(null, value));
  }

  override set(sid: string, sess: session.SessionData, callback?: Callback): void {
    this.write(sid, sess as session.SessionData & Record<string, unknown>);
    if (callback) defer(() => callback());
  }

  override destroy(sid: string, callback?: Callback): void {
    this.sessions.delete(sid);
    if (callback) defer(() => callback());
  }

  override touch(sid: string, sess: session.SessionData, callback?: Callback): void {
    const entry = this.live(sid);
    if (entry) {
      const current = JSON.parse(entry.json) as session.SessionData & Record<string, unknown>;
      current.cookie = sess.cookie;
      this.write(sid, current);
    }
    if (callback) defer(() => callback());
  }

  /**
   * Writes `sess` only if the stored version is still `expectedVersion` (and the session still exists):
   * the hook update() uses so read-modify-write never loses a concurrent update. A Redis store can provide the
   * same method (a Lua script comparing the version field) to make update() atomic across processes.
   */
  compareAndSet(sid: string, expectedVersion: number, sess: session.SessionData, callback: Callback<boolean>): void {
    const entry = this.live(sid);
    const ok = entry !== undefined && entry.version === expectedVersion;
    if (ok) this.write(sid, sess as session.SessionData & Record<string, unknown>);
    defer(() => callback(null, ok));
  }

  /** Writes `sess` only over a live session: the hook that keeps an ended session ended (lifecycle.ts). */
  setIfExists(sid: string, sess: session.SessionData, callback: Callback<boolean>): void {
    const ok = this.live(sid) !== undefined;
    if (ok) this.write(sid, sess as session.SessionData & Record<string, unknown>);
    defer(() => callback(null, ok));
  }

  override all(callback: Callback<Record<string, session.SessionData>>): void {
    const out: Record<string, session.SessionData> = Object.create(null);
    const now = Date.now();
    for (const [sid, entry] of this.sessions) if (entry.expires > now) out[sid] = JSON.parse(entry.json);
    defer(() => callback(null, out));
  }

  override length(callback: Callback<number>): void {
    this.prune();
    const n = this.sessions.size;
    defer(() => callback(null, n));
  }

  override clear(callback?: Callback): void {
    this.sessions.clear();
    if (callback) defer(() => callback());
  }
}
