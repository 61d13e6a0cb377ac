/**
 * Which websockets belong to which session, so a session's end reaches its sockets: destroyed, regenerated or
 * expired → close 4401 (the client renews and reconnects). Also throttles the touch that websocket activity
 * sends to the store, and re-checks each session at its expiry.
 *
 * Cross-process: revoke() closes local sockets, then hands the id to `publish` (a no-op by default). A bus (e.g.
 * Redis pub/sub) plugs in by setting `publish` and calling `closeSession(sid)` for ids other processes publish.
 */
import type { WebSocket } from 'ws';
import { CLOSE_CODES } from '../../shared/protocol.js';

/** setTimeout's ceiling (a 32-bit int of ms); longer waits are re-armed. */
const MAX_DELAY = 2 ** 31 - 1;

interface SessionState {
  sockets: Set<WebSocket>;
  lastTouch: number;
  touching: boolean;
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
  /** A recheck (recheckAll) is under way: a second reconnect does not start another chain of retries. */
  rechecking?: boolean;
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
  private sessions = new Map<string, SessionState>();
  private sidOf = new WeakMap<WebSocket, string>();
  /** Seam for a cross-process revocation bus. */
  publish: (sid: string) => void = () => {};
  private closed = false;

  constructor(private hooks: RegistryHooks) {}

  sessionIdOf(ws: WebSocket): string | undefined {
    return this.sidOf.get(ws);
  }

  add(ws: WebSocket, sid: string, expiresAt: number): void {
    this.bind(ws, sid, expiresAt);
    ws.on('message', () => this.activity(ws));
    ws.once('close', () => this.remove(ws));
  }

  private bind(ws: WebSocket, sid: string, expiresAt: number): void {
    this.sidOf.set(ws, sid);
    let state = this.sessions.get(sid);
    if (!state) {
      state = { sockets: new Set(), lastTouch: Date.now(), touching: false, expiresAt, timer: undefined };
      this.sessions.set(sid, state);
      this.arm(sid, state);
    } else if (expiresAt > state.expiresAt) {
      state.expiresAt = expiresAt;
      this.arm(sid, state);
    }
    state.sockets.add(ws);
    // A Set keeps insertion order: the first is the oldest. One token replayed a thousand times costs 32 sockets.
    const max = this.hooks.maxSocketsPerSession ?? Infinity;
    while (state.sockets.size > max) {
      const oldest = state.sockets.values().next().value!;
      this.remove(oldest);
      closeSocket(oldest, CLOSE_CODES.tooManyConnections, 'too many connections');
    }
  }

  private unbind(ws: WebSocket): void {
    const sid = this.sidOf.get(ws);
    if (sid === undefined) return;
    const state = this.sessions.get(sid);
    if (!state) return;
    state.sockets.delete(ws);
    if (state.sockets.size === 0) {
      if (state.timer) clearTimeout(state.timer);
      this.sessions.delete(sid);
    }
  }

  remove(ws: WebSocket): void {
    this.unbind(ws);
    this.sidOf.delete(ws);
  }

  /** After a regenerate over this socket: it now belongs to `newSid`. */
  rebind(ws: WebSocket, newSid: string, expiresAt: number): void {
    this.unbind(ws);
    this.bind(ws, newSid, expiresAt);
  }

  /** Every socket of `oldSid` now belongs to `newSid`, left open: an id rotated under open sockets (sign-in). */
  move(oldSid: string, newSid: string, expiresAt: number): WebSocket[] {
    const state = this.sessions.get(oldSid);
    if (!state) return [];
    const sockets = [...state.sockets];
    for (const ws of sockets) this.rebind(ws, newSid, expiresAt);
    return sockets;
  }

  /** Closes this process's sockets of `sid` with 4401 (except `keep`). What a bus subscriber calls. */
  closeSession(sid: string, keep?: WebSocket, reason = 'session ended'): void {
    const state = this.sessions.get(sid);
    if (!state) return;
    for (const ws of [...state.sockets]) {
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

  /**
   * Every local session checked against the store once; those gone close (4401). What a bus calls after it was not
   * listening for a while (reconnect): a revocation published meanwhile still reaches this process's sockets.
   */
  recheckAll(): void {
    if (this.closed) return;
    for (const [sid, state] of this.sessions) {
      if (state.rechecking) continue;
      state.rechecking = true;
      this.recheck(sid, state, 100);
    }
  }

  private recheck(sid: string, state: SessionState, retryIn: number): void {
    if (this.closed) return;
    this.hooks.check(sid).then(
      (expiresAt) => {
        state.rechecking = false;
        if (expiresAt === null && this.sessions.get(sid) === state) this.closeSession(sid);
      },
      () => {
        // The store's own connection may come back after the bus's: try again, backing off, while the session is here.
        if (this.closed || this.sessions.get(sid) !== state) return void (state.rechecking = false);
        setTimeout(() => this.recheck(sid, state, Math.min(retryIn * 2, this.hooks.retryDelay)), retryIn).unref();
      },
    );
  }

  /** A message arrived: touch the session at most once per touchInterval. */
  activity(ws: WebSocket): void {
    const sid = this.sidOf.get(ws);
    const state = sid === undefined ? undefined : this.sessions.get(sid);
    if (!state || state.touching || this.closed) return;
    const now = Date.now();
    if (now - state.lastTouch < this.hooks.touchInterval) return;
    state.lastTouch = now;
    state.touching = true;
    this.hooks.touch(sid!).then(
      (expiresAt) => {
        state.touching = false;
        if (expiresAt === null) this.closeSession(sid!);
        else if (expiresAt > state.expiresAt) {
          state.expiresAt = expiresAt;
          this.arm(sid!, state);
        }
      },
      () => {
        // A failed touch is not a logout: the next message tries again.
        state.touching = false;
        state.lastTouch = 0;
      },
    );
  }

  private arm(sid: string, state: SessionState, delay = state.expiresAt - Date.now()): void {
    if (state.timer) clearTimeout(state.timer);
    if (this.closed || !Number.isFinite(state.expiresAt)) return;
    state.timer = setTimeout(() => this.onTimer(sid, state), Math.max(0, Math.min(delay, MAX_DELAY)));
    state.timer.unref();
  }

  private onTimer(sid: string, state: SessionState): void {
    state.timer = undefined;
    if (this.sessions.get(sid) !== state) return;
    if (state.expiresAt > Date.now()) return this.arm(sid, state);
    this.hooks.check(sid).then(
      (expiresAt) => {
        if (this.sessions.get(sid) !== state) return;
        if (expiresAt === null) return this.closeSession(sid, undefined, 'session expired');
        // Stores that expire by TTL (Redis) may keep a stale cookie.expires: trust the store, look again later.
        state.expiresAt = Math.max(expiresAt, Date.now() + this.hooks.touchInterval);
        this.arm(sid, state);
      },
      () => this.arm(sid, state, this.hooks.retryDelay),
    );
  }

  /** Stops every timer; sockets stay open. */
  close(): void {
    this.closed = true;
    for (const state of this.sessions.values()) if (state.timer) clearTimeout(state.timer);
  }
}

export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) ws.close(code, reason);
  } catch {
    ws.terminate();
  }
}
