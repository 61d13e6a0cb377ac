/**
 * hs.on(…): what the server tells the app. One event today, `reuse` (DESIGN "Token rotation and reuse detection"):
 * a rotated-out token came back, so two parties held the session and it was ended. A listener that throws is the
 * app's bug, not the client's doing: it is reported as a process warning and never fails the request that found the
 * reuse (a client must not be able to crash the server through the app's alert code).
 */

export interface ReuseEvent {
  /** The session that was ended (it is gone from the store; its sockets are closing 4401 on every process). */
  sessionID: string;
  /** The Authorization scheme the rotated-out token came with: 'bearer', or 'dpop' for a device-bound session. */
  via: 'bearer' | 'dpop';
  /** The generation presented, and the session's current one when it was ended. */
  generation: number;
  currentGeneration: number;
}

export interface ServerEventMap {
  reuse: ReuseEvent;
}

export type ServerEventName = keyof ServerEventMap;
export type ServerListener<E extends ServerEventName> = (event: ServerEventMap[E]) => void;

export class ServerEvents {
  private listeners: { [E in ServerEventName]: ServerListener<E>[] } = { reuse: [] };

  on<E extends ServerEventName>(event: E, listener: ServerListener<E>): void {
    this.check(event, listener);
    this.listeners[event].push(listener);
  }

  once<E extends ServerEventName>(event: E, listener: ServerListener<E>): void {
    this.check(event, listener);
    const wrapper: ServerListener<E> = (e) => {
      this.off(event, wrapper);
      listener(e);
    };
    this.listeners[event].push(wrapper);
  }

  off<E extends ServerEventName>(event: E, listener: ServerListener<E>): void {
    const list = this.listeners[event];
    if (!list) return;
    const i = list.indexOf(listener);
    if (i !== -1) list.splice(i, 1);
  }

  emit<E extends ServerEventName>(event: E, payload: ServerEventMap[E]): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        listener(Object.freeze({ ...payload }));
      } catch (err) {
        process.emitWarning(`hybrid-session: a '${event}' listener threw: ${err instanceof Error ? err.message : String(err)}`, {
          type: 'HybridSessionWarning',
          code: 'HS_LISTENER_ERROR',
        });
      }
    }
  }

  private check(event: string, listener: unknown): void {
    if (!Object.hasOwn(this.listeners, event)) throw new TypeError(`hs.on(event): unknown event ${JSON.stringify(event)} (known: ${Object.keys(this.listeners).join(', ')})`);
    if (typeof listener !== 'function') throw new TypeError('hs.on(event, listener): listener must be a function');
  }
}
