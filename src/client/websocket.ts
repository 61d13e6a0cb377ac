/**
 * session.websocket: a ReconnectingWebSocket whose every (re)connect offers the token of that moment.
 *
 * reconnecting-websocket fixes `protocols` at construction, so the bearer goes in through its `WebSocket` option: a
 * subclass of the WebSocket class that adds ['hybrid-session', 'hybrid-session.bearer.<token>'] when constructed.
 * Its URL provider (awaited before each connect, after reconnecting-websocket's delay) waits for the token, and after
 * a 4401 renews the refused one first, so the next attempt offers the new token. It renews there rather than at the
 * close because a login that regenerates the session closes its sockets before its response brings the new token
 * (Session-Token): by then that token is usually in, and nothing needs asking. The token is never put in the URL.
 *
 * The backoff between attempts (reconnecting-websocket's own options and defaults: 1–5 s growing ×1.3 to 10 s) is
 * waited here too, instead of inside the library, where nothing can cut it short: the session's wake-up (resume,
 * visible, online) ends the wait of every socket that is down.
 */
import ReconnectingWebSocket, { type Options } from 'reconnecting-websocket';
import { BEARER_PREFIX, CLOSE_CODES, SUBPROTOCOL } from '../shared/protocol.js';
import { noop, type Core } from './core.js';
import { later } from './later.js';

export const createWebSocket =
  (core: Core) =>
  (urlOrPath: string | URL, protocols?: string | string[], options?: Options): ReconnectingWebSocket => {
    const url = new URL(urlOrPath, core.o.url);
    url.protocol = url.protocol.replace('http', 'ws');
    const ours = core.o.origins.has(url.origin.replace('ws', 'http'));
    const app = protocols ? ([] as string[]).concat(protocols) : [];
    let offered: string | null = null;
    /** The token a 4401 refused, until the next attempt: renewed then, unless replaced meanwhile. */
    let refused: string | null | undefined;
    /** The token the last renewal for this socket's refusal got. */
    let renewed: string | null | undefined;
    const Base = options?.WebSocket ?? WebSocket;
    // CLOSING stays 2 (inherited): reconnecting-websocket checks it to accept the class.
    class BearerWebSocket extends Base {
      constructor(u: string) {
        offered = core.token;
        super(u, ours ? [SUBPROTOCOL, ...(offered ? [BEARER_PREFIX + offered] : []), ...app] : app);
      }
    }
    const o = { minReconnectionDelay: 1000 + Math.random() * 4000, maxReconnectionDelay: 1e4, reconnectionDelayGrowFactor: 1.3, ...options };
    let wake = noop;
    const next = async () => {
      const n = ws.retryCount;
      if (n) await new Promise<void>((r) => later((wake = r), Math.min(o.maxReconnectionDelay, o.minReconnectionDelay * o.reconnectionDelayGrowFactor ** (n - 1))));
      try {
        await core.ready();
        if (refused === undefined || core.token != refused) renewed = undefined;
        // Refused again with the token renewed for the previous refusal, no newer one in since, and the socket not
        // accepted in between (reconnecting-websocket resets retryCount once a connection stays up): stop rather
        // than loop. A login's rotation is not this: its Session-Token has replaced the refused token by now.
        else if (refused == renewed && n > 1) {
          ws.close();
          core.emit('expired');
        } else renewed = await core.renew(refused);
      } catch {
        // Offline: the attempt fails visibly, and is retried.
      }
      refused = undefined;
      return url.href;
    };
    const ws = new ReconnectingWebSocket(next, undefined, {
      ...o,
      minReconnectionDelay: 0,
      WebSocket: BearerWebSocket,
      debug: false, // it would log the protocols, token included
    });
    const close = ws.close.bind(ws);
    ws.close = (code, reason) => {
      core.live.delete(ws);
      close(code, reason);
    };
    core.live.set(ws, () => wake());
    ws.addEventListener('close', (e) => {
      if (e.code == CLOSE_CODES.unauthorized) refused = offered;
    });
    return ws;
  };
