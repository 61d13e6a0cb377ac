/**
 * A WebSocket that reconnects: the part of reconnecting-websocket the session uses, at about a quarter of its size
 * (the script-tag bundle has a budget, and the library was half of it). It has a WebSocket's surface (readyState,
 * send, close, on…, addEventListener, binaryType) plus `retryCount` and `reconnect()`, as reconnecting-websocket.
 *
 * What to connect to is asked anew before every attempt (`next`, which also waits out the backoff): the session
 * offers the token of that moment, and `next` answering null stops for good. A connection that stayed open
 * `minUptime` resets `retryCount`. Messages sent while down wait in a bounded queue, sent on the next open.
 */
import { later } from './later.js';

export interface SocketOptions {
  /** The WebSocket class to construct (another implementation, or ws's in Node). Default: the global one. */
  WebSocket?: typeof WebSocket;
  /** First backoff, ms. Default: random between 1 and 5 s (so clients that dropped together spread out). */
  minReconnectionDelay?: number;
  /** Backoff cap, ms. Default 10 000. */
  maxReconnectionDelay?: number;
  /** Backoff growth per failed attempt. Default 1.3. */
  reconnectionDelayGrowFactor?: number;
  /** ms a connection must stay open to count as a success (resets retryCount). Default 5000. */
  minUptime?: number;
  /** Messages kept while disconnected; past it, send() drops them. Default 100. */
  maxEnqueuedMessages?: number;
}

/** Where the next attempt goes, or null: stop. */
export type NextAttempt = (retryCount: number) => Promise<[url: string, protocols: string[]] | null>;

interface SocketEvents {
  open: Event;
  close: CloseEvent;
  message: MessageEvent;
  error: Event;
}

// Types only (the class inherits EventTarget's methods): listeners get the event type of their name, as on a WebSocket.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface ReconnectingSocket {
  addEventListener<K extends keyof SocketEvents>(type: K, listener: (e: SocketEvents[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof SocketEvents>(type: K, listener: (e: SocketEvents[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ReconnectingSocket extends EventTarget {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  /** Attempts since the last connection that stayed up minUptime (0 for the first one). */
  retryCount = 0;
  binaryType: BinaryType = 'blob';
  onopen: ((e: Event) => void) | null = null;
  onclose: ((e: CloseEvent) => void) | null = null;
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  private _ws: WebSocket | undefined;
  private _stopped = false;
  private _queue: Parameters<WebSocket['send']>[0][] = [];

  constructor(
    private readonly _next: NextAttempt,
    private readonly _o: SocketOptions & { connectTimeout: number },
  ) {
    super();
    this._connect();
  }

  get readyState(): number {
    return this._ws?.readyState ?? (this._stopped ? 3 : 0);
  }
  get url(): string {
    return this._ws?.url ?? '';
  }
  get protocol(): string {
    return this._ws?.protocol ?? '';
  }
  get bufferedAmount(): number {
    return this._ws?.bufferedAmount ?? 0;
  }

  send(data: Parameters<WebSocket['send']>[0]): void {
    if (this._ws?.readyState == 1) this._ws.send(data);
    else if (this._queue.length < (this._o.maxEnqueuedMessages ?? 100)) this._queue.push(data);
  }

  /** Closes for good (no reconnect). Between two attempts there is no socket to close: nothing more is emitted. */
  close(code?: number, reason?: string): void {
    this._stopped = true;
    this._ws?.close(code, reason);
  }

  /** Drops the current connection (if any) and connects again. */
  reconnect(code?: number, reason?: string): void {
    if (this._ws) this._ws.close(code, reason);
    else if (this._stopped) {
      this._stopped = false;
      this._connect();
    }
  }

  /** A copy of the underlying socket's event, from this target (an event in dispatch cannot be dispatched again). */
  private _emit(type: 'open' | 'close' | 'message' | 'error', fields?: object) {
    const e = Object.assign(new Event(type), fields);
    const handler = this[`on${type}`] as ((e: Event) => void) | null;
    handler?.(e);
    this.dispatchEvent(e);
  }

  private async _connect() {
    const at = await this._next(this.retryCount).catch(() => null);
    if (!at) this._stopped = true;
    if (this._stopped) return;
    let ws: WebSocket;
    try {
      ws = new (this._o.WebSocket ?? WebSocket)(...at!);
    } catch {
      // The constructor refused (a bad URL, a page policy, no WebSocket at all): retrying cannot help.
      this._stopped = true;
      return this._emit('error');
    }
    let opened = 0;
    this._ws = ws;
    ws.binaryType = this.binaryType;
    // A handshake that never completes (a half-open connection) is given up and retried.
    later(() => {
      if (ws.readyState == 0) ws.close();
    }, this._o.connectTimeout);
    ws.onopen = () => {
      opened = Date.now();
      this._emit('open');
      this._queue.splice(0).forEach((m) => this.send(m));
    };
    ws.onmessage = (e) => this._emit('message', { data: e.data });
    ws.onerror = () => this._emit('error');
    ws.onclose = (e) => {
      this._ws = undefined;
      const stayedUp = opened && Date.now() - opened >= (this._o.minUptime ?? 5000);
      this.retryCount = (stayedUp ? 0 : this.retryCount) + 1;
      this._emit('close', { code: e.code, reason: e.reason, wasClean: e.wasClean });
      if (!this._stopped) this._connect();
    };
  }
}
