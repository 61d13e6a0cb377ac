/**
 * session.rpc: JSON-RPC 2.0 over one lazily opened session websocket at `rpcPath` (the SocketStream facade's).
 * Requests sent while it is (re)connecting wait in reconnecting-websocket's queue; each has its own timeout. The
 * facade's token notification (after setUserId regenerates the session) is kept as a new token.
 */
import type ReconnectingWebSocket from 'reconnecting-websocket';
import { HybridSessionError } from '../shared/errors.js';
import { isWellFormedToken, RPC_TOKEN_NOTIFICATION } from '../shared/protocol.js';
import type { Core } from './core.js';
import { later } from './later.js';

type Pending = [resolve: (value: unknown) => void, reject: (error: HybridSessionError) => void];

export function createRpc(core: Core, websocket: (path: string) => ReconnectingWebSocket) {
  const pending = new Map<number, Pending>();
  let socket: ReconnectingWebSocket | undefined;
  let seq = 0;

  const receive = (e: MessageEvent) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    const p = pending.get(m?.id);
    const error = m?.error;
    if (p) {
      pending.delete(m.id);
      if (error) p[1](Object.assign(new HybridSessionError('HS_ERR_RPC', error.message), { rpcCode: error.code, data: error.data }));
      else p[0](m.result);
    } else if (m?.method == RPC_TOKEN_NOTIFICATION) {
      const t = m.params?.[0] ?? m.params;
      if (isWellFormedToken(t?.token)) core.take(t.token, t.expiresAt);
    }
  };

  return <T = unknown>(method: string, ...params: unknown[]): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!socket || !core.live.has(socket)) (socket = websocket(core.o.rpcPath)).addEventListener('message', receive);
      const id = ++seq;
      pending.set(id, [resolve as (value: unknown) => void, reject]);
      later(() => pending.delete(id) && reject(new HybridSessionError('HS_ERR_RPC_TIMEOUT', method)), core.o.rpcTimeout);
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
}
