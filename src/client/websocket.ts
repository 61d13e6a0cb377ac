/**
 * session.websocket: a reconnecting socket (socket.ts) whose every (re)connect offers the token of that moment, as
 * the subprotocols ['hybrid-session', 'hybrid-session.bearer.<token>', …the app's]; the token is never in the URL. A
 * bound token is offered with a proof for this connect beside it, 'hybrid-session.dpop.<proof>' (htm GET, htu the
 * websocket URL): a browser lets a websocket set no other header. A refused proof is a 4401 like a refused token.
 *
 * Before each attempt it waits out the backoff (1–5 s growing ×1.3 to 10 s by default, each wait jittered down to
 * half; the session's wake-up — resume, visible, online — ends it), then for the token, and after a 4401 renews
 * the refused token first, so the next attempt offers the new one. It renews there rather than at the close
 * because a login that regenerates the session closes its sockets before its response brings the new token
 * (Session-Token): by then that token is usually in, and nothing needs asking.
 *
 * The give-up rule is this socket's own, across reconnects, whatever the uptime in between: a token renewed for a
 * refusal and refused in its turn, with nothing newer in since, means the session is gone: stop, `expired`. A
 * refusal the token endpoint answers without a token (503, 401) stops it too, reported through `error`; only no
 * answer at all (offline) keeps it trying.
 */
import { HybridSessionError } from '../shared/errors.js';
import { BEARER_PREFIX, CLOSE_CODES, DPOP_PREFIX, SUBPROTOCOL } from '../shared/protocol.js';
import { noop, type Core } from './core.js';
import { later } from './later.js';
import { ReconnectingSocket, type SocketOptions } from './socket.js';

export const createWebSocket =
  (core: Core) =>
  (urlOrPath: string | URL, protocols?: string | string[], options: SocketOptions = {}): ReconnectingSocket => {
    const url = new URL(urlOrPath, core.options.url);
    url.protocol = url.protocol.replace('http', 'ws');
    const ours = core.options.origins.has(url.origin.replace('ws', 'http'));
    const app = protocols ? ([] as string[]).concat(protocols) : [];
    const min = options.minReconnectionDelay ?? 1000 + Math.random() * 4000;
    const max = options.maxReconnectionDelay ?? 1e4;
    const grow = options.reconnectionDelayGrowFactor ?? 1.3;
    let offered: string | null = null;
    /** The token a 4401 refused, until the next attempt: renewed then, unless replaced meanwhile. */
    let refused: string | null | undefined;
    /** The token the last renewal for this socket's refusal got. */
    let renewed: string | null | undefined;
    /** Ends the current backoff wait (the session's wake-up). */
    let endWait = noop;

    const pause = (n: number) =>
      new Promise<void>((resolve) => {
        endWait = resolve;
        // Jitter: sockets that dropped together (a server restart) do not all come back in the same instant.
        later(resolve, Math.min(max, min * grow ** (n - 1)) * (0.5 + Math.random() / 2));
      });

    const giveUp = (error?: HybridSessionError) => {
      core.live.delete(ws);
      if (!error) return core.emit('expired');
      const why = `websocket ${url.pathname}: refused, and ${error.message}`;
      core.emit('error', new HybridSessionError(error.code, why, { cause: error, status: error.status }));
    };

    const next = async (n: number): Promise<[string, string[]] | null> => {
      if (n) await pause(n);
      try {
        await core.ready();
        if (refused === undefined || core.token != refused) renewed = undefined;
        // Refused again with the token renewed for the previous refusal, and no newer one in since. A login's
        // rotation is not this: its Session-Token has replaced the refused token by now.
        else if (refused == renewed) {
          giveUp();
          return null;
        } else renewed = await core.renew(refused);
      } catch (e) {
        // No answer (offline): the attempt fails visibly, and is retried. An answer without a token: stop.
        if (refused !== undefined && (e as HybridSessionError).status) {
          giveUp(e as HybridSessionError);
          return null;
        }
      }
      refused = undefined;
      const token = (offered = core.token);
      const proof = ours && token && core.bound && (await core.binding.proof('GET', url.href, token));
      return [url.href, ours ? [SUBPROTOCOL, ...(token ? [BEARER_PREFIX + token] : []), ...(proof ? [DPOP_PREFIX + proof] : []), ...app] : app];
    };

    const ws = new ReconnectingSocket(next, { ...options, connectTimeout: core.options.timeout });
    const close = ws.close.bind(ws);
    ws.close = (code, reason) => {
      core.live.delete(ws);
      close(code, reason);
    };
    core.live.set(ws, () => endWait());
    ws.addEventListener('close', (e) => {
      if (e.code == CLOSE_CODES.unauthorized) refused = offered;
    });
    return ws;
  };
