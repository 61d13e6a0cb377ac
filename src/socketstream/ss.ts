/**
 * createSocketStream(): SocketStream's app object (`ss.set`, `ss.session`, `ss.http`, `ss.rpc`, `ss.start`) on
 * top of hybridSession. Settings are collected by mutation, as SocketStream apps write them, and read once when the
 * app starts; everything after that (sessions, tokens, cookies, upgrades) is hybridSession's.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { hybridSession, type HybridSession, type HybridSessionOptions, type SessionHandle, type SessionObject } from '../server/index.js';
import { HybridSessionError, clientMessage, isHybridSessionError } from '../shared/errors.js';
import { RPC_ERRORS, RPC_TOKEN_NOTIFICATION } from '../shared/protocol.js';
import { HttpRoutes, wrapEnd, type RouteHandler } from './http-route.js';
import { InFlightGate } from './in-flight.js';
import { RpcRouter, encodeResponse, rpcError, type JsonRpcResponse, type ActionModule, type RpcConnection, type RpcRequest } from './rpc.js';
import { decorateSession, type SessionBinding } from './session-methods.js';
import {
  checkKeys,
  deepMerge,
  envMatches,
  normalizeSettings,
  splitFactoryOptions,
  type NormalizedSettings,
  type SocketStreamOptions,
  type SocketStreamSessionOptions,
  type SocketStreamSettings,
} from './settings.js';
import { buildStore, chooseStore, type BuiltStore, type RedisConfig, type StoreChoice } from './store.js';

/** One RPC message; SocketStream's calls are small, and ws's own default (100 MiB) invites memory floods. */
export const MAX_RPC_MESSAGE = 1024 * 1024;
const DEFAULT_PORT = 3000;
/** ms stop() waits for websocket closing handshakes before terminating the stragglers. */
const STOP_GRACE = 1000;

export type Middleware = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

export interface StartOptions {
  port?: number;
  host?: string;
}

export interface SocketStream {
  /** `ss.set('*', {session: {cookie: {httpOnly: true}}, ws: {client: {localStorage: true}, path: '/ws'}})`; env '*' or a name. */
  set(env: string, settings: SocketStreamSettings): SocketStream;
  set(settings: SocketStreamSettings): SocketStream;
  readonly session: {
    /** maxAge (ms, default 30 days), secret (required in production), cookie settings. Read at start. */
    options: SocketStreamSessionOptions;
    store: {
      /** 'memory' (default), 'redis' with `{url}` | `{host, port, password, db}` | `{client}` (+ `prefix`), or a Store. */
      use(store: 'memory' | 'redis' | object, config?: RedisConfig): void;
    };
  };
  readonly http: {
    route(path: string, handler: RouteHandler): SocketStream;
    /** Sessions (cookie or bearer), the token endpoint, CORS and the routes, for an existing Express/Connect app. */
    readonly middleware: Middleware;
  };
  readonly rpc: {
    actions(name: string, module: ActionModule<SocketStream> | { actions: ActionModule<SocketStream> }): SocketStream;
  };
  /** Makes (or takes) the http.Server, attaches the request handler and the websocket; resolves once it listens. */
  start(target?: Server | StartOptions): Promise<Server>;
  /** Closes the facade's websockets, the servers it made and the Redis client it made. */
  stop(): Promise<void>;
  /** The hybridSession instance, once started (tokens, revoke, sessionOf for the app's own sockets). */
  readonly hs: HybridSession | undefined;
}

interface Attached {
  server: Server;
  own: boolean;
  detach(): void;
}

interface Runtime {
  settings: NormalizedSettings;
  hs: HybridSession;
  wss: WebSocketServer;
  store: BuiltStore;
  attached: Attached[];
}

function isServer(value: unknown): value is Server {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && typeof v.listen === 'function' && typeof v.on === 'function' &&
    typeof v.address === 'function';
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

function send(ws: WebSocket, message: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

/**
 * Calls read before the socket paused (one read can hold thousands of small frames) wait in order, up to this many
 * times rpc.maxInFlight; past that each is answered -32000 at once instead of kept.
 */
const QUEUE_FACTOR = 16;

/** The -32000 answer to a call refused because too many of its socket's calls are running (none for a notification). */
function tooManyRequests(text: string): JsonRpcResponse | null {
  let id: unknown = null;
  try {
    const m = JSON.parse(text) as { id?: unknown } | null;
    if (typeof m !== 'object' || m === null || !('id' in m)) return null;
    id = m.id;
  } catch {
    // unparsable: answered with a null id, as a parse error would be
  }
  const valid = id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  return rpcError(valid ? (id as string | number | null) : null, RPC_ERRORS.actionFailed, 'too many requests');
}

function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/** Settled when every tracked promise (including ones added while waiting) has settled. */
async function drain(pending: Set<Promise<unknown>>): Promise<void> {
  while (pending.size > 0) {
    const batch = [...pending];
    await Promise.allSettled(batch);
    for (const p of batch) pending.delete(p);
  }
}

export function createSocketStream(options: SocketStreamOptions = {}): SocketStream {
  const warn = (message: string) => console.warn(message);
  const raw: SocketStreamSettings & { session: SocketStreamSessionOptions } = { session: {} };
  // hybridSession's `store` option is ss.session.store.use(store) given up front.
  const { store: initialStore, ...rest } = options as SocketStreamOptions & { store?: unknown };
  const initial = splitFactoryOptions(rest);
  checkKeys(initial);
  deepMerge(raw as unknown as Record<string, unknown>, initial as Record<string, unknown>);
  let storeChoice: StoreChoice = initialStore === undefined ? { kind: 'memory' } : chooseStore(initialStore);
  let runtime: Promise<Runtime> | undefined;
  /** The built runtime, for the synchronous `ss.hs` getter. */
  let current: Runtime | undefined;
  const routes = new HttpRoutes();

  const assertNotStarted = (what: string) => {
    if (runtime) {
      throw new HybridSessionError('HS_ERR_INVALID_OPTIONS', `${what} after the app started has no effect: set it before ss.start() or the first request`);
    }
  };

  /** ss.session.options, guarded: a change after start throws instead of being ignored. */
  const guard = <T extends object>(target: T, path: string): T =>
    new Proxy(target, {
      get(obj, key, receiver) {
        const value = Reflect.get(obj, key, receiver);
        return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof key === 'string'
          ? guard(value, `${path}.${key}`)
          : value;
      },
      set(obj, key, value, receiver) {
        assertNotStarted(`setting ${path}.${String(key)}`);
        return Reflect.set(obj, key, value, receiver);
      },
      deleteProperty(obj, key) {
        assertNotStarted(`deleting ${path}.${String(key)}`);
        return Reflect.deleteProperty(obj, key);
      },
    });

  const router = new RpcRouter<SocketStream>(() => ss, (error) =>
    warn(`hybrid-session/socketstream: ${(error as Error)?.message ?? error}`),
  );

  async function build(): Promise<Runtime> {
    const settings = normalizeSettings(raw, warn);
    const store = await buildStore(storeChoice, settings.maxAge, warn);
    let hs: HybridSession;
    try {
      hs = hybridSession(
        compact<HybridSessionOptions>({
          ...settings.passThrough,
          secret: settings.secret,
          store: store.store,
          maxAge: settings.maxAge,
          cookie: compact({ ...settings.cookie }),
          tokenPath: settings.tokenPath,
          allowedOrigins: settings.allowedOrigins,
          allowQueryToken: settings.allowQueryToken,
          tokenMaxAge: settings.tokenMaxAge,
          proxy: settings.proxy,
          ws: { client: { ...settings.wsClient } },
          heartbeat: settings.wsHeartbeat,
          // Several processes on one Redis: a session ended on one closes its sockets on all, at once.
          revocation: store.redis ? { redis: store.redis as never } : undefined,
        }),
      );
    } catch (error) {
      await store.close();
      throw error;
    }
    const wss = new WebSocketServer({ noServer: true, path: settings.wsPath, maxPayload: MAX_RPC_MESSAGE });
    const rt: Runtime = { settings, hs, wss, store, attached: [] };
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => onConnection(rt, ws, req));
    return rt;
  }

  function ensureRuntime(): Promise<Runtime> {
    if (!runtime) {
      const building = build();
      runtime = building;
      building.then(
        (rt) => {
          if (runtime === building) current = rt;
        },
        () => {
          // A refused start (no secret in production, bad settings) can be fixed and tried again.
          if (runtime === building) runtime = undefined;
        },
      );
    }
    return runtime;
  }

  // ---- websockets and RPC ----

  function notifyToken(rt: Runtime, sid: string, issued: { token: string; expiresAt: number }): void {
    // The session's sockets as hybrid-session's own registry knows them (indexed by session id, kept across moves).
    for (const ws of rt.hs.socketsOf(sid)) {
      send(ws, { jsonrpc: '2.0', method: RPC_TOKEN_NOTIFICATION, params: [{ token: issued.token, expiresAt: issued.expiresAt }] });
    }
  }

  function onConnection(rt: Runtime, ws: WebSocket, req: IncomingMessage): void {
    let handle: SessionHandle;
    try {
      handle = rt.hs.sessionOf(ws);
    } catch {
      return; // closed by the server before we got it (session ended during the handshake)
    }
    const rpc: RpcConnection<SessionObject> = {
      socketId: randomUUID(),
      clientIp: req.socket.remoteAddress,
      async loadSession(call: RpcRequest<SessionObject>) {
        const session = await handle.load();
        const binding: SessionBinding = { current: session };
        decorateSession(session, binding, {
          changeUser: async (_from, data) => {
            const next = await changeUserOverSocket(rt, handle, data);
            call.session = next;
            call.sessionId = handle.sessionID;
            return next;
          },
        });
        return { session, sessionId: handle.sessionID };
      },
    };
    // Without a listener a protocol error on one socket would be thrown as an uncaught 'error' event.
    ws.on('error', () => {});
    const onRpcError = (error: unknown) => warn(`hybrid-session/socketstream: rpc: ${(error as Error)?.message ?? error}`);
    const answer = (response: JsonRpcResponse | null) => {
      if (response && ws.readyState === ws.OPEN) ws.send(encodeResponse(response, onRpcError));
    };
    // Bounds: at most rpcMaxInFlight calls of this socket run at once; past it the socket is not read.
    const gate = new InFlightGate(rt.settings.rpcMaxInFlight, rt.settings.rpcMaxInFlight * QUEUE_FACTOR, {
      pause: () => ws.pause(),
      resume: () => ws.resume(),
    });
    ws.on('message', (data) => {
      const text = textOf(data);
      const accepted = gate.submit(() => router.handleMessage(text, rpc).then(answer).catch(onRpcError));
      if (!accepted) answer(tooManyRequests(text));
    });
  }

  /** setUserId over a websocket: the new id is made by the server; only this socket moves, the session's others close 4401. */
  async function changeUserOverSocket(rt: Runtime, handle: SessionHandle, data: Record<string, unknown> | null): Promise<SessionObject> {
    const regenerated = await handle.regenerate({ keepSockets: true });
    let next = regenerated.session;
    // update(), not save(): the moved sockets can already be writing to the new id.
    if (data) next = await handle.update((s) => void Object.assign(s, data));
    notifyToken(rt, regenerated.sessionID, regenerated);
    return next;
  }

  // ---- HTTP ----

  async function changeUserOverHttp(rt: Runtime, req: IncomingMessage & { session?: SessionObject; sessionID?: string }, from: SessionObject, data: Record<string, unknown> | null): Promise<SessionObject> {
    const regenerate = from.regenerate as unknown as (options: { keepSockets: boolean }, cb: (err?: unknown) => void) => void;
    await new Promise<void>((resolve, reject) => regenerate.call(from, { keepSockets: true }, (err) => (err ? reject(err) : resolve())));
    let next = req.session!;
    if (data) {
      // The sockets moved to the new id may already be writing to it: update(), not save().
      await (next as unknown as { update(fn: (s: SessionObject) => void): Promise<unknown> }).update((s) => void Object.assign(s, data));
      next = req.session!;
    }
    notifyToken(rt, req.sessionID!, await rt.hs.issueToken(req.sessionID!));
    return next;
  }

  function runRoute(rt: Runtime, handler: RouteHandler, req: IncomingMessage & { session?: SessionObject; sessionID?: string }, res: ServerResponse, next: ((err?: unknown) => void) | undefined): void {
    const pending = new Set<Promise<unknown>>();
    const fail = (error: unknown) => {
      if (next) return next(error);
      warn(`hybrid-session/socketstream: route ${pathOf(req.url)}: ${(error as Error)?.stack ?? error}`);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      }
      if (!res.writableEnded) res.end('Internal Server Error');
    };
    if (req.session) {
      const binding: SessionBinding = { current: req.session };
      decorateSession(req.session, binding, {
        changeUser: (from, data) => changeUserOverHttp(rt, req, from, data),
        track: (work) => {
          pending.add(work);
        },
      });
    }
    wrapEnd(
      res,
      // SocketStream's promise, "no save() needed when res.end() is called", is hybridSession's own end hook (it
      // saves a modified session before the last byte, as express-session). Here end only waits for setUserId.
      () => drain(pending),
      (error) => warn(`hybrid-session/socketstream: saving the session of ${pathOf(req.url)} failed: ${(error as Error)?.message ?? error}`),
    );
    try {
      const result = handler(req, res) as PromiseLike<unknown> | undefined;
      if (result && typeof result.then === 'function') result.then(undefined, fail);
    } catch (error) {
      fail(error);
    }
  }

  function notFound(res: ServerResponse): void {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Not Found');
  }

  const middleware: Middleware = (req, res, next) => {
    ensureRuntime().then(
      (rt) => {
        rt.hs.middleware(req, res, (err?: unknown) => {
          if (err) {
            if (next) return next(err);
            // The code and a short message; the store's text (its address) goes to the log only.
            warn(`hybrid-session/socketstream: ${pathOf(req.url)}: ${(err as Error)?.message ?? err}`);
            if (res.headersSent) return void res.destroy();
            const body = JSON.stringify({ error: isHybridSessionError(err) ? err.code : 'HS_ERR_STORE', message: clientMessage(err) });
            res.statusCode = isHybridSessionError(err) && err.status ? err.status : 500;
            res.setHeader('Content-Type', 'application/json; charset=utf-8');
            res.end(body);
            return;
          }
          const handler = routes.match(req.url);
          if (!handler) return next ? next() : notFound(res);
          runRoute(rt, handler, req as IncomingMessage & { session?: SessionObject }, res, next);
        });
      },
      (error: unknown) => {
        if (next) return next(error);
        warn(`hybrid-session/socketstream: ${(error as Error)?.message ?? error}`);
        res.statusCode = 500;
        res.end();
      },
    );
  };

  // ---- start / stop ----

  function attach(rt: Runtime, server: Server, own: boolean): Attached {
    const addRequest = server.listenerCount('request') === 0;
    const onRequest = (req: IncomingMessage, res: ServerResponse) => middleware(req, res);
    if (addRequest) server.on('request', onRequest);
    // The wss is bound to wsPath: hs.attach() authenticates its upgrades and answers any other path 404 (and
    // destroys the socket, its reset included) unless another 'upgrade' listener of the app's is there to serve it.
    const detachUpgrades = rt.hs.attach(server, rt.wss);
    return {
      server,
      own,
      detach() {
        if (addRequest) server.off('request', onRequest);
        detachUpgrades();
      },
    };
  }

  function listening(server: Server, opts: StartOptions | undefined): Promise<void> {
    if (server.listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
      if (opts) {
        const port = opts.port ?? (Number(process.env.PORT) || DEFAULT_PORT);
        server.listen(port, opts.host);
      }
    });
  }

  const ss: SocketStream = {
    set(envOrSettings: string | SocketStreamSettings, maybe?: SocketStreamSettings) {
      const [env, settings] = typeof envOrSettings === 'string' ? [envOrSettings, maybe] : ['*', envOrSettings];
      checkKeys(settings);
      assertNotStarted('ss.set()');
      if (envMatches(env)) deepMerge(raw as unknown as Record<string, unknown>, settings as Record<string, unknown>);
      return ss;
    },
    session: {
      get options() {
        return guard(raw.session, 'ss.session.options');
      },
      set options(value: SocketStreamSessionOptions) {
        assertNotStarted('ss.session.options');
        checkKeys({ session: value });
        raw.session = { ...value };
      },
      store: {
        use(store, config) {
          assertNotStarted('ss.session.store.use()');
          storeChoice = chooseStore(store, config);
        },
      },
    },
    http: {
      route(path, handler) {
        routes.route(path, handler);
        return ss;
      },
      middleware,
    },
    rpc: {
      actions(name, module) {
        router.actions(name, module as never);
        return ss;
      },
    },
    async start(target) {
      const rt = await ensureRuntime();
      try {
        await rt.store.ready;
      } catch (error) {
        await ss.stop();
        throw error;
      }
      const own = !isServer(target);
      const server = own ? createServer() : target;
      const attached = attach(rt, server, own);
      rt.attached.push(attached);
      try {
        // A server the app made may be listening already, or be told to listen right after start().
        await listening(server, own ? ((target as StartOptions | undefined) ?? {}) : undefined);
      } catch (error) {
        attached.detach();
        rt.attached.splice(rt.attached.indexOf(attached), 1);
        throw error;
      }
      return server;
    },
    async stop() {
      if (!runtime) return;
      const pending = runtime;
      runtime = undefined;
      current = undefined;
      let rt: Runtime;
      try {
        rt = await pending;
      } catch {
        return;
      }
      // Going away (1001) politely, then, after a bounded wait for the closing handshakes, by force.
      const closing = [...rt.wss.clients].map((ws) => new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1001, 'server stopping');
      }));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(closing), new Promise<void>((r) => (timer = setTimeout(r, STOP_GRACE)))]);
      clearTimeout(timer);
      for (const ws of rt.wss.clients) ws.terminate();
      await new Promise<void>((resolve) => rt.wss.close(() => resolve()));
      for (const a of rt.attached) {
        a.detach();
        if (a.own) {
          a.server.closeAllConnections?.();
          await new Promise<void>((resolve) => a.server.close(() => resolve()));
        }
      }
      await rt.hs.close();
      await rt.store.close();
    },
    get hs() {
      return current?.hs;
    },
  };
  return ss;
}
