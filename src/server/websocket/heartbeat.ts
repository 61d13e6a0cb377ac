/**
 * Liveness of authenticated websockets (ws's documented ping/pong pattern). A peer that vanished without a FIN
 * (phone out of coverage, NAT dropped the mapping, half-open TCP) never fires 'close' by itself: its socket, its
 * registry entry and its session's expiry re-check would stay until the kernel gives up, hours later. Every
 * `interval` each socket is pinged; one that has not answered the previous ping is terminated, so a dead peer is
 * dropped within two intervals. Browsers answer pings themselves, so an open page that never sends stays open.
 *
 * The "answered" bit lives in the socket's registry record (no map of its own) and one pong listener serves every
 * socket. One timer per hybridSession() instance, unref'd (never holds the process open), started with the first
 * socket and stopped at the first beat that finds none.
 */
import type { WebSocket } from 'ws';
import type { SocketRegistry } from './socket-registry.js';

function terminate(ws: WebSocket): void {
  // terminate(), not close(): a peer that ignores pings will not answer a closing handshake either.
  ws.terminate();
}

function ping(ws: WebSocket): void {
  try {
    ws.ping();
  } catch {
    // Not open any more (closing): its 'close' removes it.
  }
}

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly onPong: (this: WebSocket) => void;

  /** `interval` in ms; 0 disables (add() does nothing). */
  constructor(
    readonly interval: number,
    private registry: SocketRegistry,
  ) {
    this.onPong = function onPong(this: WebSocket) {
      registry.answered(this);
    };
  }

  /** `ws` is in the registry already (its record starts as answered). */
  add(ws: WebSocket): void {
    if (this.interval <= 0) return;
    ws.on('pong', this.onPong);
    if (!this.timer) {
      this.timer = setInterval(() => this.beat(), this.interval);
      this.timer.unref();
    }
  }

  private beat(): void {
    this.registry.beat(terminate, ping);
    if (this.registry.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
