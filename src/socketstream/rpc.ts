/**
 * SocketStream's RPC, on JSON-RPC 2.0. Action modules keep SocketStream's shape,
 * `function (req, res, ss) { req.use('session'); return { method(...params) { res(value) } } }`, and are called
 * once per request, as SocketStream did, so `req`/`res` belong to that one call. A bad message, an unknown method or
 * an action that throws is answered to that caller as a JSON-RPC error; nothing here closes the socket.
 */
import { carriesForeignText, clientMessage, isHybridSessionError, type HybridSessionError } from '../shared/errors.js';
import { RPC_ERRORS } from '../shared/protocol.js';

export type JsonRpcId = string | number | null;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: { code: string | number };
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId; error: JsonRpcError };

/** `res` as SocketStream apps call it: `res(value)`, `res(a, b)` (answered as `[a, b]`), `res(new Error('…'))`. */
export type RpcRespond = (...values: unknown[]) => void;

/** SocketStream's request middleware signature, for `req.use(fn)`. */
export type RpcMiddleware = (req: RpcRequest, res: RpcRespond, next: (error?: unknown) => void) => void;

export interface RpcRequest<S = any> {
  /** The JSON-RPC id (undefined for a notification). */
  id: JsonRpcId | undefined;
  /** 'app.updateSession' */
  method: string;
  params: unknown[];
  socketId: string;
  clientIp: string | undefined;
  transport: 'websocket';
  receivedAt: number;
  /** Set by `req.use('session')`, loaded fresh from the store before the action's method runs. */
  session: S | undefined;
  /** The session's id once loaded. */
  sessionId: string | undefined;
  /** `req.use('session')` or a middleware `(req, res, next)`; runs, in order, before the method. */
  use(middleware: 'session' | RpcMiddleware): void;
}

export type ActionModule<SS = unknown> = (req: RpcRequest, res: RpcRespond, ss: SS) => Record<string, unknown> | undefined | null;

/** What the transport gives the router for one connection. */
export interface RpcConnection<S = any> {
  socketId: string;
  clientIp: string | undefined;
  /** Fresh from the store, every time it is called; `req` is the call it is loaded for (setUserId updates it). */
  loadSession(req: RpcRequest<S>): Promise<{ session: S; sessionId: string }>;
}

const METHOD_NAME = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)+$/;

export function rpcError(id: JsonRpcId, code: number, message: string, data?: JsonRpcError['data']): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

/**
 * The text of one answer. An action may answer anything (a BigInt, a cycle, params echoed 100,000 deep, which
 * JSON.stringify overflows the stack on): such an answer becomes a -32603 error to that caller, never a throw.
 */
export function encodeResponse(response: JsonRpcResponse, onError: (error: unknown) => void): string {
  try {
    return JSON.stringify(response);
  } catch (error) {
    onError(error);
    return JSON.stringify(rpcError(response.id, RPC_ERRORS.internalError, 'Internal error: the answer could not be encoded as JSON'));
  }
}

function isError(value: unknown): value is Error & { code?: unknown } {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

/** A store failure, whose message carries the store's text: reported to the app, answered with a short message. */
export function isStoreFailure(thrown: unknown): boolean {
  return isHybridSessionError(thrown) && carriesForeignText(thrown);
}

export function errorFromThrown(id: JsonRpcId, thrown: unknown): JsonRpcResponse {
  // The store's own text (an address, a file path) is for the app's log, never the client (DESIGN "Bounds").
  if (isStoreFailure(thrown)) {
    return rpcError(id, RPC_ERRORS.actionFailed, clientMessage(thrown), { code: (thrown as HybridSessionError).code });
  }
  if (isError(thrown)) {
    const code = thrown.code;
    const data = typeof code === 'string' || typeof code === 'number' ? { code } : undefined;
    return rpcError(id, RPC_ERRORS.actionFailed, thrown.message || 'Action failed', data);
  }
  return rpcError(id, RPC_ERRORS.actionFailed, typeof thrown === 'string' ? thrown : 'Action failed');
}

function isValidId(id: unknown): id is JsonRpcId | undefined {
  return id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/** SocketStream modules are `exports.actions = fn`; accept the function or the module object. */
function actionFunction(name: string, module: unknown): ActionModule<any> {
  if (typeof module === 'function') return module as ActionModule<any>;
  const actions = (module as { actions?: unknown } | null)?.actions;
  if (typeof actions === 'function') return actions as ActionModule<any>;
  throw new TypeError(`ss.rpc.actions('${name}', fn): fn must be function (req, res, ss) { return {…} } or a module exporting actions`);
}

export class RpcRouter<SS = unknown> {
  readonly #modules = new Map<string, ActionModule<SS>>();
  readonly #ss: () => SS;
  readonly #onLateError: (error: unknown) => void;

  /** `ss` is a thunk: the app object that action modules receive is finished after its router is made. */
  constructor(ss: () => SS, onLateError: (error: unknown) => void) {
    this.#ss = ss;
    this.#onLateError = onLateError;
  }

  /** `ss.rpc.actions('app', fn)`: `fn` answers every method named `app.<name>`. */
  actions(name: string, module: ActionModule<SS> | { actions: ActionModule<SS> }): void {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(name)) {
      throw new TypeError(`ss.rpc.actions(name, fn): "${String(name)}" is not a module name such as 'app' or 'app.admin'`);
    }
    this.#modules.set(name, actionFunction(name, module));
  }

  has(name: string): boolean {
    return this.#modules.has(name);
  }

  /** One websocket text message in, the response to send (null when there is none: a notification). */
  async handleMessage(text: string, conn: RpcConnection): Promise<JsonRpcResponse | null> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return rpcError(null, RPC_ERRORS.parseError, 'Parse error');
    }
    return this.handle(message, conn);
  }

  async handle(message: unknown, conn: RpcConnection): Promise<JsonRpcResponse | null> {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      // Batches are not offered: the client never sends them, and one call per message keeps `res` simple.
      return rpcError(null, RPC_ERRORS.invalidRequest, 'Invalid Request: expected one JSON-RPC 2.0 request object');
    }
    const m = message as Record<string, unknown>;
    const id = isValidId(m.id) ? m.id : null;
    if (!isValidId(m.id)) return rpcError(null, RPC_ERRORS.invalidRequest, 'Invalid Request: id must be a string, number or null');
    if (m.jsonrpc !== '2.0') return rpcError(id ?? null, RPC_ERRORS.invalidRequest, 'Invalid Request: jsonrpc must be "2.0"');
    if (typeof m.method !== 'string') return rpcError(id ?? null, RPC_ERRORS.invalidRequest, 'Invalid Request: method must be a string');
    if (m.params !== undefined && !Array.isArray(m.params)) {
      return rpcError(id ?? null, RPC_ERRORS.invalidRequest, 'Invalid Request: params must be an array');
    }
    const isNotification = !('id' in m);
    let ran: Promise<void> = Promise.resolve();
    const pending = this.#dispatch(id ?? null, m.method, (m.params as unknown[] | undefined) ?? [], conn, isNotification, (p) => (ran = p));
    // A notification gets no answer, so nothing waits for its `res` (which it may never call); it settles once it
    // answered or its action returned, so a caller that bounds calls in flight (rpc.maxInFlight) counts it too.
    return isNotification ? Promise.race([pending, ran]).then(() => null) : pending;
  }

  #dispatch(id: JsonRpcId, method: string, params: unknown[], conn: RpcConnection, isNotification: boolean, onRun: (ran: Promise<void>) => void): Promise<JsonRpcResponse> {
    const notFound = () => rpcError(id, RPC_ERRORS.methodNotFound, `Method not found: ${method}`);
    if (!METHOD_NAME.test(method)) return Promise.resolve(notFound());
    const dot = method.lastIndexOf('.');
    const factory = this.#modules.get(method.slice(0, dot));
    const name = method.slice(dot + 1);
    if (!factory) return Promise.resolve(notFound());

    return new Promise<JsonRpcResponse>((resolve) => {
      let answered = false;
      const answer = (response: JsonRpcResponse) => {
        if (answered) return false;
        answered = true;
        resolve(response);
        return true;
      };
      const res: RpcRespond = (...values) => {
        const first = values[0];
        const response = values.length === 1 && isError(first)
          ? errorFromThrown(id, first)
          : { jsonrpc: '2.0' as const, id, result: values.length === 0 ? null : values.length === 1 ? (first ?? null) : values };
        if (!answer(response) && !isNotification) {
          this.#onLateError(new Error(`res() called more than once for ${method}; only the first answer was sent`));
        }
      };
      const fail = (thrown: unknown) => {
        if (!answer(errorFromThrown(id, thrown)) || isStoreFailure(thrown)) this.#onLateError(thrown);
      };

      const middleware: Array<'session' | RpcMiddleware> = [];
      const req: RpcRequest = {
        id: isNotification ? undefined : id,
        method,
        params,
        socketId: conn.socketId,
        clientIp: conn.clientIp,
        transport: 'websocket',
        receivedAt: Date.now(),
        session: undefined,
        sessionId: undefined,
        use(item) {
          if (item !== 'session' && typeof item !== 'function') {
            throw new TypeError(`req.use(${JSON.stringify(item)}): only 'session' or a middleware function (req, res, next)`);
          }
          middleware.push(item);
        },
      };

      let actions: Record<string, unknown> | undefined | null;
      try {
        actions = factory(req, res, this.#ss());
      } catch (error) {
        fail(error);
        return;
      }
      const action = actions && Object.prototype.hasOwnProperty.call(actions, name) ? actions[name] : undefined;
      if (typeof action !== 'function') {
        answer(notFound());
        return;
      }

      const run = async () => {
        for (const item of middleware) {
          if (answered) return;
          if (item === 'session') {
            const { session, sessionId } = await conn.loadSession(req);
            req.session = session;
            req.sessionId = sessionId;
          } else {
            await new Promise<void>((next, reject) => item(req, res, (error) => (error ? reject(error) : next())));
          }
        }
        if (answered) return;
        // An async action's rejection is an error like a throw; its resolved value is ignored: `res` answers.
        await action.apply(actions, params);
      };
      onRun(run().catch(fail));
    });
  }
}
