/**
 * session.rpc: JSON-RPC 2.0 over one lazily opened session websocket at `rpcPath` (the SocketStream facade's).
 * Calls wait here, not in the socket's own queue, while the socket is (re)connecting: a call that timed out
 * is dropped before it is ever sent (it must not run on the server after its caller was told it failed), and at
 * most QUEUE calls wait offline. An answer is matched only to a call still waiting. The facade's token
 * notification (after setUserId regenerates the session) is adopted like any other token.
 */
import type { ReconnectingSocket } from './socket.js';
import { HybridSessionError } from '../shared/errors.js';
import { RPC_TOKEN_NOTIFICATION } from '../shared/protocol.js';
import type { Core } from './core.js';
import { later } from './later.js';

/** Calls that may wait for the socket to (re)open; past it, a call fails at once. */
const QUEUE = 100;

interface Call {
  frame: string;
  /** Sent on a socket that was open: not sent again on the next one (it may have run). */
  sent: boolean;
  resolve(value: unknown): void;
  reject(error: HybridSessionError): void;
}

export function createRpc(core: Core, websocket: (path: string) => ReconnectingSocket) {
  const waiting = new Map<number, Call>();
  let socket: ReconnectingSocket | undefined;
  let seq = 0;

  const flush = () => {
    waiting.forEach((call) => {
      if (!call.sent && socket?.readyState == socket?.OPEN) {
        call.sent = true;
        socket!.send(call.frame);
      }
    });
  };

  const receive = (e: MessageEvent) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    const call = waiting.get(m?.id);
    if (call) {
      waiting.delete(m.id);
      const error = m.error;
      if (error) call.reject(new HybridSessionError('HS_ERR_RPC', String(error.message), { rpcCode: error.code, data: error.data }));
      else call.resolve(m.result);
    } else if (m?.method == RPC_TOKEN_NOTIFICATION) {
      const t = m.params?.[0] ?? m.params;
      core.adopt(t?.token, t?.expiresAt, core.epoch);
    }
  };

  return <T = unknown>(method: string, ...params: unknown[]): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!socket || !core.live.has(socket)) {
        socket = websocket(core.options.rpcPath);
        socket.addEventListener('message', receive);
        socket.addEventListener('open', flush);
      }
      let queued = 0;
      waiting.forEach((c) => (queued += +!c.sent));
      if (queued >= QUEUE) return reject(new HybridSessionError('HS_ERR_RPC', `${method}: ${QUEUE} calls already wait for the socket`));
      const id = ++seq;
      waiting.set(id, { frame: JSON.stringify({ jsonrpc: '2.0', id, method, params }), sent: false, resolve: resolve as Call['resolve'], reject });
      later(() => {
        if (waiting.delete(id)) reject(new HybridSessionError('HS_ERR_RPC_TIMEOUT', `${method}: no answer within ${core.options.rpcTimeout} ms`));
      }, core.options.rpcTimeout);
      flush();
    });
}
