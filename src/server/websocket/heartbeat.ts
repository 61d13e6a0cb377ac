/**
 * Liveness of authenticated websockets (ws's documented ping/pong pattern). A peer that vanished without a FIN
 * (phone out of coverage, NAT dropped the mapping, half-open TCP) never fires 'close' by itself: its socket, its
 * registry entry and its session's expiry timer would stay until the kernel gives up, hours later. Every
 * `interval` each socket is pinged; one that has not answered the previous ping is terminated, so a dead peer is
 * dropped within two intervals. Browsers answer pings themselves, so an open page that never sends stays open.
 *
 * One timer per hybridSession() instance, unref'd (never holds the process open), started with the first socket
 * and stopped with the last.
 */
import type { WebSocket } from 'ws';

export class Heartbeat {
  /** socket → answered since the last ping */
  private alive = new Map<WebSocket, boolean>();
  private timer: NodeJS.Timeout | undefined;

  /** `interval` in ms; 0 disables (add() does nothing). */
  constructor(readonly interval: number) {}

  get size(): number {
    return this.alive.size;
  }

  add(ws: WebSocket): void {
    if (this.interval <= 0 || this.alive.has(ws)) return;
    this.alive.set(ws, true);
    ws.on('pong', () => {
      if (this.alive.has(ws)) this.alive.set(ws, true);
    });
    ws.once('close', () => {
      this.alive.delete(ws);
      if (this.alive.size === 0) this.stop();
    });
    if (!this.timer) {
      this.timer = setInterval(() => this.beat(), this.interval);
      this.timer.unref();
    }
  }

  private beat(): void {
    for (const [ws, answered] of this.alive) {
      if (!answered) {
        // terminate(), not close(): a peer that ignores pings will not answer a closing handshake either.
        this.alive.delete(ws);
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      try {
        ws.ping();
      } catch {
        // Not open any more (closing): its 'close' removes it.
      }
    }
    if (this.alive.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
