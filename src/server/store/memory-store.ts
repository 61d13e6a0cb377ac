/**
 * The default store: express-session compatible, for one process. Unlike express-session's MemoryStore it is
 * bounded (least recently active evicted first, so a flood of new sessions cannot grow memory without limit) and
 * expires sessions on a timer (unref'd: it never keeps the process alive), not only when they are read.
 * Two LRU segments: provisional sessions (made by the token endpoint, never used since: store/provisional.ts) are
 * evicted before any used one, so a flood of credential-less token requests, however fast, only ever evicts its
 * own sessions while a used one is there to keep (DESIGN "Provisional sessions"). Both stay O(1) per write.
 * Its compareAndSet makes update() atomic without a lock (all of it runs synchronously on one thread).
 */
import session from 'express-session';
import { warnOnce } from '../warn.js';
import { readMeta } from './session-meta.js';

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
  /** Which segment the entry is in. */
  provisional: boolean;
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
  private used = new Map<string, Entry>();
  /** The same for provisional sessions, evicted first. */
  private provisional = new Map<string, Entry>();
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
    for (const segment of [this.provisional, this.used]) {
      for (const [sid, entry] of segment) {
        if (entry.expires <= now) {
          segment.delete(sid);
          this.emit('expired', sid);
        }
      }
    }
  }

  /** Sessions held now, provisional ones included. */
  get size(): number {
    return this.used.size + this.provisional.size;
  }

  /** How many of them are provisional (never used since the token endpoint made them). */
  get provisionalSize(): number {
    return this.provisional.size;
  }

  private entry(sid: string): Entry | undefined {
    return this.used.get(sid) ?? this.provisional.get(sid);
  }

  private remove(sid: string): void {
    if (!this.used.delete(sid)) this.provisional.delete(sid);
  }

  /** Stops the sweep timer (hybridSession's close() does it for the store it made). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private live(sid: string): Entry | undefined {
    const entry = this.entry(sid);
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      this.remove(sid);
      this.emit('expired', sid);
      return undefined;
    }
    return entry;
  }

  private write(sid: string, sess: session.SessionData & Record<string, unknown>): void {
    const meta = readMeta(sess);
    const entry: Entry = { json: JSON.stringify(sess), expires: expiresOf(sess), version: meta.v, provisional: meta.provisional === true };
    this.remove(sid);
    (entry.provisional ? this.provisional : this.used).set(sid, entry);
    while (this.size > this.max) {
      // Provisional first; a used session goes only when no provisional one is left to evict.
      const segment = this.provisional.size > 0 ? this.provisional : this.used;
      const oldest = segment.keys().next().value as string;
      segment.delete(oldest);
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
    this.remove(sid);
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

  override all(callback: Callback<Record<string, session.SessionData>>): void {
    const out: Record<string, session.SessionData> = Object.create(null);
    const now = Date.now();
    for (const segment of [this.used, this.provisional]) {
      for (const [sid, entry] of segment) if (entry.expires > now) out[sid] = JSON.parse(entry.json);
    }
    defer(() => callback(null, out));
  }

  override length(callback: Callback<number>): void {
    this.prune();
    const n = this.size;
    defer(() => callback(null, n));
  }

  override clear(callback?: Callback): void {
    this.used.clear();
    this.provisional.clear();
    if (callback) defer(() => callback());
  }
}
