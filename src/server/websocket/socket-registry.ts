/**
 * Which websockets belong to which session, so a session's end reaches its sockets: destroyed, regenerated or
 * expired → close 4401 (the client renews and reconnects). Also throttles the touch that websocket activity
 * sends to the store, and re-checks each session at its expiry.
 *
 * Cross-process: revoke() closes local sockets, then hands the id to `publish` (a no-op by default). A bus (e.g.
 * Redis pub/sub) plugs in by setting `publish` and calling `closeSession(sid)` for ids other processes publish.
 *
 * Memory (issue 17): a server holds tens of thousands of sockets, so per socket there is one small record (its
 * session, the heartbeat's "answered" bit, the handle sessionOf() made, what regenerate() needs of the upgrade) and
 * the same three listeners shared by every socket; per session one record, its sockets a linked list through their
 * records. Expiry re-checks of every session share one timer over one min-heap ordered by when each is due, instead
 * of a timer and closures per session.
 */
import type { WebSocket } from 'ws';
import { CLOSE_CODES } from '../../shared/protocol.js';
import { ExpiryQueue, type Queued } from './expiry-queue.js';

interface SessionRecord extends Queued {
  readonly sid: string;
  /** Sockets of this session, oldest first: a list through SocketRecord.next/prev (most sessions have one or two). */
  head: SocketRecord | undefined;
  tail: SocketRecord | undefined;
  count: number;
  lastTouch: number;
  expiresAt: number;
  touching: boolean;
  /** A recheck (recheckAll) is under way: a second reconnect does not start another chain of retries. */
  rechecking: boolean;
}

/** Flags of a SocketRecord. */
const ALIVE = 1;
const SECURE = 2;

interface SocketRecord {
  readonly ws: WebSocket;
  /** undefined once removed (closed, or closed by a session's end). */
  session: SessionRecord | undefined;
  prev: SocketRecord | undefined;
  next: SocketRecord | undefined;
  /** ALIVE: answered since the last ping (heartbeat.ts); SECURE: the upgrade came over TLS (cookie.secure 'auto'). */
  flags: number;
  /** What sessionOf(ws) made for this socket, kept as long as the socket is (it outlives removal, as before). */
  handle: object | undefined;
}

export interface RegistryHooks {
  /** Re-reads the session: its new expiry (ms), or null when it is gone. Throws on store errors. */
  check(sid: string): Promise<number | null>;
  /** Touches the session in the store: its new expiry, or null when it is gone. */
  touch(sid: string): Promise<number | null>;
  touchInterval: number;
  /** Retry delay after a store error during a check. */
  retryDelay: number;
  /** DESIGN "Bounds": open sockets per session; past it the oldest closes 4408. Default: unbounded. */
  maxSocketsPerSession?: number;
}

export class SocketRegistry {
  private sessions = new Map<string, SessionRecord>();
  private records = new WeakMap<WebSocket, SocketRecord>();
  private queue: ExpiryQueue<SessionRecord>;
  private sockets = 0;
  /** Seam for a cross-process revocation bus. */
  publish: (sid: string) => void = () => {};
  private closed = false;
  /** The same listener for every socket (`this` is the socket): no closures per socket. */
  private readonly onMessage: (this: WebSocket) => void;
  private readonly onClose: (this: WebSocket) => void;

  constructor(private hooks: RegistryHooks) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners get the socket as `this`
    const registry = this;
    this.onMessage = function onMessage(this: WebSocket) {
      registry.activity(this);
    };
    this.onClose = function onClose(this: WebSocket) {
      registry.remove(this);
    };
    this.queue = new ExpiryQueue<SessionRecord>((session) => this.due(session));
  }

  /** Open sockets in the registry. */
  get size(): number {
    return this.sockets;
  }

  sessionIdOf(ws: WebSocket): string | undefined {
    return this.records.get(ws)?.session?.sid;
  }

  /** `secure`: the upgrade request came over TLS (kept for regenerate()'s new cookie, not the request itself). */
  add(ws: WebSocket, sid: string, expiresAt: number, secure = false): void {
    if (this.records.has(ws)) return;
    const record: SocketRecord = { ws, session: undefined, prev: undefined, next: undefined, flags: ALIVE | (secure ? SECURE : 0), handle: undefined };
    this.records.set(ws, record);
    this.bind(record, sid, expiresAt);
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
  }

  private bind(record: SocketRecord, sid: string, expiresAt: number): void {
    let session = this.sessions.get(sid);
    if (!session) {
      session = { sid, head: undefined, tail: undefined, count: 0, lastTouch: Date.now(), expiresAt, touching: false, rechecking: false, dueAt: 0, slot: -1 };
      this.sessions.set(sid, session);
      this.arm(session);
    } else if (expiresAt > session.expiresAt) {
      session.expiresAt = expiresAt;
      this.arm(session);
    }
    record.session = session;
    record.next = undefined;
    record.prev = session.tail;
    if (session.tail) session.tail.next = record;
    else session.head = record;
    session.tail = record;
    session.count++;
    this.sockets++;
    // The list keeps arrival order: the head is the oldest. One token replayed a thousand times costs 32 sockets.
    const max = this.hooks.maxSocketsPerSession ?? Infinity;
    while (session.count > max) {
      const oldest = session.head!.ws;
      this.remove(oldest);
      closeSocket(oldest, CLOSE_CODES.tooManyConnections, 'too many connections');
    }
  }

  private unbind(record: SocketRecord): void {
    const session = record.session;
    if (!session) return;
    if (record.prev) record.prev.next = record.next;
    else session.head = record.next;
    if (record.next) record.next.prev = record.prev;
    else session.tail = record.prev;
    record.session = record.prev = record.next = undefined;
    session.count--;
    this.sockets--;
    if (session.count === 0) {
      this.queue.delete(session);
      if (this.sessions.get(session.sid) === session) this.sessions.delete(session.sid);
    }
  }

  remove(ws: WebSocket): void {
    const record = this.records.get(ws);
    if (!record) return;
    this.unbind(record);
    // sessionOf(ws) keeps answering with the handle it already made; nothing else of the socket stays.
    if (record.handle === undefined) this.records.delete(ws);
  }

  /** After a regenerate over this socket: it now belongs to `newSid`. */
  rebind(ws: WebSocket, newSid: string, expiresAt: number): void {
    const record = this.records.get(ws);
    if (!record) return;
    this.unbind(record);
    this.bind(record, newSid, expiresAt);
  }

  /** Every socket of `oldSid` now belongs to `newSid`, left open: an id rotated under open sockets (sign-in). */
  move(oldSid: string, newSid: string, expiresAt: number): WebSocket[] {
    const sockets = this.socketsOf(oldSid);
    for (const ws of sockets) this.rebind(ws, newSid, expiresAt);
    return sockets;
  }

  /** This process's open sockets of `sid`. */
  socketsOf(sid: string): WebSocket[] {
    const out: WebSocket[] = [];
    for (let r = this.sessions.get(sid)?.head; r; r = r.next) out.push(r.ws);
    return out;
  }

  /** How many of this process's sockets belong to `sid`. */
  countOf(sid: string): number {
    return this.sessions.get(sid)?.count ?? 0;
  }

  /** Closes this process's sockets of `sid` with 4401 (except `keep`). What a bus subscriber calls. */
  closeSession(sid: string, keep?: WebSocket, reason = 'session ended'): void {
    if (!this.sessions.has(sid)) return;
    for (const ws of this.socketsOf(sid)) {
      if (ws === keep) continue;
      this.remove(ws);
      closeSocket(ws, CLOSE_CODES.unauthorized, reason);
    }
  }

  /** The session ended here: close local sockets and tell other processes. */
  revoke(sid: string, keep?: WebSocket): void {
    this.closeSession(sid, keep);
    this.publish(sid);
  }

  /** What sessionOf(ws) made for `ws`, if it did and the socket was ever registered. */
  handleOf(ws: WebSocket): object | undefined {
    return this.records.get(ws)?.handle;
  }

  /** Keeps sessionOf(ws)'s handle with the socket's record; false when the socket is not (or no longer) registered. */
  setHandle(ws: WebSocket, handle: object): boolean {
    const record = this.records.get(ws);
    if (!record?.session) return false;
    record.handle = handle;
    return true;
  }

  /** The upgrade request of `ws` came over TLS (see add()). */
  secureOf(ws: WebSocket): boolean {
    return ((this.records.get(ws)?.flags ?? 0) & SECURE) !== 0;
  }

  /** The heartbeat's pong: `ws` answered. */
  answered(ws: WebSocket): void {
    const record = this.records.get(ws);
    if (record?.session) record.flags |= ALIVE;
  }

  /**
   * One heartbeat over every registered socket: `dead` for each that has not answered since the last beat (it is
   * removed first), `ping` for the others, whose "answered" bit is cleared until their pong.
   */
  beat(dead: (ws: WebSocket) => void, ping: (ws: WebSocket) => void): void {
    const gone: WebSocket[] = [];
    for (const session of this.sessions.values()) {
      for (let r = session.head; r; r = r.next) {
        if ((r.flags & ALIVE) === 0) gone.push(r.ws);
        else {
          r.flags &= ~ALIVE;
          ping(r.ws);
        }
      }
    }
    for (const ws of gone) {
      this.remove(ws);
      dead(ws);
    }
  }

  /**
   * Every local session checked against the store once; those gone close (4401). What a bus calls after it was not
   * listening for a while (reconnect): a revocation published meanwhile still reaches this process's sockets.
   */
  recheckAll(): void {
    if (this.closed) return;
    for (const session of this.sessions.values()) {
      if (session.rechecking) continue;
      session.rechecking = true;
      this.recheck(session, 100);
    }
  }

  private recheck(session: SessionRecord, retryIn: number): void {
    if (this.closed) return;
    const sid = session.sid;
    this.hooks.check(sid).then(
      (expiresAt) => {
        session.rechecking = false;
        if (expiresAt === null && this.sessions.get(sid) === session) this.closeSession(sid);
      },
      () => {
        // The store's own connection may come back after the bus's: try again, backing off, while the session is here.
        if (this.closed || this.sessions.get(sid) !== session) return void (session.rechecking = false);
        setTimeout(() => this.recheck(session, Math.min(retryIn * 2, this.hooks.retryDelay)), retryIn).unref();
      },
    );
  }

  /** A message arrived: touch the session at most once per touchInterval. */
  activity(ws: WebSocket): void {
    const session = this.records.get(ws)?.session;
    if (!session || session.touching || this.closed) return;
    const now = Date.now();
    if (now - session.lastTouch < this.hooks.touchInterval) return;
    session.lastTouch = now;
    session.touching = true;
    const sid = session.sid;
    this.hooks.touch(sid).then(
      (expiresAt) => {
        session.touching = false;
        if (expiresAt === null) this.closeSession(sid);
        else if (expiresAt > session.expiresAt) {
          session.expiresAt = expiresAt;
          this.arm(session);
        }
      },
      () => {
        // A failed touch is not a logout: the next message tries again.
        session.touching = false;
        session.lastTouch = 0;
      },
    );
  }

  /** Due for a re-check at its expiry, or `at` (a retry after a store error); never when it has no expiry. */
  private arm(session: SessionRecord, at = session.expiresAt): void {
    if (this.closed || !Number.isFinite(session.expiresAt)) return this.queue.delete(session);
    this.queue.schedule(session, at);
  }

  /** The queue's callback: `session` is due (and out of the queue). */
  private due(session: SessionRecord): void {
    const sid = session.sid;
    if (this.sessions.get(sid) !== session) return;
    if (session.expiresAt > Date.now()) return this.arm(session);
    this.hooks.check(sid).then(
      (expiresAt) => {
        if (this.sessions.get(sid) !== session) return;
        if (expiresAt === null) return this.closeSession(sid, undefined, 'session expired');
        // Stores that expire by TTL (Redis) may keep a stale cookie.expires: trust the store, look again later.
        session.expiresAt = Math.max(expiresAt, Date.now() + this.hooks.touchInterval);
        this.arm(session);
      },
      () => this.arm(session, Date.now() + this.hooks.retryDelay),
    );
  }

  /** Stops every timer; sockets stay open. */
  close(): void {
    this.closed = true;
    this.queue.clear();
  }
}

export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) ws.close(code, reason);
  } catch {
    ws.terminate();
  }
}
