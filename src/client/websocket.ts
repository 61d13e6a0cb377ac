/**
 * session.websocket: a ReconnectingWebSocket whose every (re)connect offers the token of that moment.
 *
 * reconnecting-websocket fixes `protocols` at construction, so the bearer goes in through its `WebSocket` option: a
 * subclass of the WebSocket class that adds ['hybrid-session', 'hybrid-session.bearer.<token>'] when constructed.
 * Its URL provider (awaited before each connect) waits for the token: after a 4401 the renewal it starts is done
 * before the next attempt, so that attempt offers the new token. The token is never put in the URL.
 */
import ReconnectingWebSocket, { type Options } from 'reconnecting-websocket';
import { BEARER_PREFIX, CLOSE_CODES, SUBPROTOCOL } from '../shared/protocol.js';
import type { Core } from './core.js';

export const createWebSocket =
  (core: Core) =>
  (urlOrPath: string | URL, protocols?: string | string[], options?: Options): ReconnectingWebSocket => {
    const url = new URL(urlOrPath, core.o.url);
    url.protocol = url.protocol.replace('http', 'ws');
    const ours = core.o.origins.has(url.origin.replace('ws', 'http'));
    const app = protocols ? ([] as string[]).concat(protocols) : [];
    let offered: string | null = null;
    let strikes = 0;
    const Base = options?.WebSocket ?? WebSocket;
    // CLOSING stays 2 (inherited): reconnecting-websocket checks it to accept the class.
    class BearerWebSocket extends Base {
      constructor(u: string) {
        offered = core.token;
        super(u, ours ? [SUBPROTOCOL, ...(offered ? [BEARER_PREFIX + offered] : []), ...app] : app);
      }
    }
    const ws = new ReconnectingWebSocket(() => core.ready().then(() => url.href, () => url.href), undefined, {
      ...options,
      WebSocket: BearerWebSocket,
      debug: false, // it would log the protocols, token included
    });
    const close = ws.close.bind(ws);
    ws.close = (code, reason) => {
      core.live.delete(ws);
      close(code, reason);
    };
    core.live.add(ws);
    ws.addEventListener('close', (e) => {
      if (e.code != CLOSE_CODES.unauthorized || !core.live.has(ws)) return void (strikes = 0);
      // reconnecting-websocket resets retryCount once a connection has stayed up (minUptime): below 2, the socket
      // that just closed had been accepted, and this 4401 is a new event (session regenerated, revoked, expired).
      if (ws.retryCount < 2) strikes = 0;
      if (++strikes > 1) {
        // Refused again with a token renewed for it: stop rather than loop.
        ws.close();
        core.emit('expired');
      } else core.renew(offered).catch((e) => core.emit('error', e));
    });
    return ws;
  };
