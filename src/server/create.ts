/** hybridSession(options): wires the parts of one instance together. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { HybridSessionError } from '../shared/errors.js';
import type { Core } from './context.js';
import { Heartbeat } from './websocket/heartbeat.js';
import { MemoryStore } from './store/memory-store.js';
import { createMiddleware } from './http/middleware.js';
import { normalizeServerOptions } from './options.js';
import { addRedisCompareAndSet, isConnectRedisStore, looksLikeConnectRedis } from './store/compare-and-set.js';
import { startRevocationBus, type RevocationBus } from './websocket/revocation-bus.js';
import { WebSocketSession, issueToken } from './websocket/session-handle.js';
import { expiresOf, inflateSession } from './store/session-object.js';
import { SocketRegistry } from './websocket/socket-registry.js';
import { storeAccess } from './store/access.js';
import type { HybridSession, HybridSessionOptions, NormalizedPublicOptions, SessionHandle } from './types.js';
import { KeyedLock } from './store/update.js';
import { warnOnce } from './warn.js';
import { ProofVerifier } from './credentials/proof.js';
import { endSession, touchSession } from './lifecycle.js';
import { ServerEvents } from './events.js';
import { authenticate, handleUpgrade, kOwnListener, refuseIfUnclaimed } from './websocket/upgrade.js';
import { isSecure } from './credentials/cookie.js';

export function hybridSession(input: HybridSessionOptions): HybridSession {
  const options = normalizeServerOptions(input);
  const ownStore = options.store === undefined;
  const store = options.store ?? new MemoryStore();
  // connect-redis has no compare-and-set: without one, update() would be exact only within one process.
  const s = store as unknown as { compareAndSet?: unknown };
  if (typeof s.compareAndSet !== 'function' && isConnectRedisStore(store)) addRedisCompareAndSet(store);
  else if (typeof s.compareAndSet !== 'function' && looksLikeConnectRedis(store)) {
    warnOnce('HS_NO_COMPARE_AND_SET', 'hybridSession(): a connect-redis store with its own serializer gets no atomic compare-and-set (Lua reads JSON only): update() is then exact within one process, not across processes');
  }
  // The built-in store answers in-process: only a store across a network can hang.
  const access = storeAccess(store, ownStore ? 0 : options.storeTimeout);
  const lock = new KeyedLock();

  const registry = new SocketRegistry({
    touchInterval: options.touchInterval,
    retryDelay: Math.min(options.touchInterval, 5_000),
    maxSocketsPerSession: options.maxSocketsPerSession,
    async check(sid) {
      const data = await access.get(sid);
      return data ? expiresOf(data) : null;
    },
    async touch(sid) {
      const data = await access.get(sid);
      if (!data) return null;
      const sess = inflateSession(store, { sessionID: sid, sessionStore: store }, data);
      return touchSession(core, sid, sess, expiresOf(data));
    },
  });
  const proofs = new ProofVerifier({ maxAge: options.proofMaxAge, nonceKey: options.nonceKey });
  const events = new ServerEvents();
  const core: Core = { options, store, access, registry, lock, heartbeat: new Heartbeat(options.heartbeat, registry), events, proofs };

  let bus: RevocationBus | undefined;
  if (options.revocation) {
    bus = startRevocationBus(options.revocation, registry, (message) =>
      process.emitWarning(message, { type: 'HybridSessionWarning', code: 'HS_REVOCATION_BUS' }),
    );
    registry.publish = (sid) => bus!.publish(sid);
  }

  // Sessions the store drops by itself (expiry sweep, eviction) end their sockets at once.
  const onStoreDrop = (sid: unknown) => {
    if (typeof sid === 'string') registry.closeSession(sid);
  };
  const emitter = store as unknown as { on?: Function; removeListener?: Function };
  if (typeof emitter.on === 'function') {
    emitter.on.call(store, 'expired', onStoreDrop);
    emitter.on.call(store, 'evicted', onStoreDrop);
  }

  // Nothing of the upgrade request stays with the socket: regenerate() needs only
  // whether it came over TLS, for cookie.secure 'auto'.
  const autoSecure = options.cookie.secure === 'auto';
  const onSession = (ws: WebSocket, req: IncomingMessage, auth: { sessionID: string; expiresAt: number }) => {
    registry.add(ws, auth.sessionID, auth.expiresAt, autoSecure && isSecure(req, options.proxy));
  };
  const detachers = new Set<() => void>();

  const publicOptions: NormalizedPublicOptions = Object.freeze({
    maxAge: options.maxAge,
    tokenMaxAge: options.tokenMaxAge,
    rotationGrace: options.rotationGrace,
    tokenPath: options.tokenPath,
    allowQueryToken: options.allowQueryToken,
    storage: options.storage,
    cookie: options.cookie,
    touchInterval: options.touchInterval,
    proxy: options.proxy,
    binding: options.binding,
    proofMaxAge: options.proofMaxAge,
  });

  const hs: HybridSession = {
    middleware: createMiddleware(core),
    attach(server, wss) {
      const wo = (wss as unknown as { options?: { noServer?: boolean; port?: unknown; server?: unknown } }).options;
      if (!wo || wo.port != null || wo.server != null || wo.noServer !== true) {
        // ws would answer the upgrade itself too, unauthenticated.
        throw new HybridSessionError('HS_ERR_INVALID_OPTIONS', 'hs.attach(server, wss): create the WebSocketServer with { noServer: true }');
      }
      const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        // Several WebSocketServers on one server: each takes its own `path`; the first attached match wins.
        const w = wss as WebSocketServer & { options: { path?: string } };
        if (w.options.path && !wss.shouldHandle(req)) return refuseIfUnclaimed(server as never, req, socket);
        handleUpgrade(core, onSession, wss, req, socket, head);
      };
      (listener as { [kOwnListener]?: boolean })[kOwnListener] = true;
      server.on('upgrade', listener);
      const detach = () => {
        server.removeListener('upgrade', listener);
        detachers.delete(detach);
      };
      detachers.add(detach);
      return detach;
    },
    handleUpgrade(wss, req, socket, head) {
      handleUpgrade(core, onSession, wss, req, socket, head);
    },
    authenticate: (req) => authenticate(core, req),
    sessionOf(ws): SessionHandle {
      const known = registry.handleOf(ws);
      if (known) return known as WebSocketSession;
      const sid = registry.sessionIdOf(ws);
      if (sid === undefined) {
        throw new HybridSessionError('HS_ERR_NO_CREDENTIALS', 'sessionOf(ws): this websocket was not authenticated by hs.attach() / hs.handleUpgrade(), or it has closed');
      }
      // Kept in the socket's registry record: the socket's other state is there already.
      const handle = new WebSocketSession(core, ws, sid, registry.secureOf(ws));
      registry.setHandle(ws, handle);
      return handle;
    },
    socketsOf: (sid) => registry.socketsOf(sid),
    issueToken: (sid) => issueToken(core, sid),
    revoke: (sid) => endSession(core, sid),
    on(event, listener) {
      events.on(event, listener);
      return hs;
    },
    once(event, listener) {
      events.once(event, listener);
      return hs;
    },
    off(event, listener) {
      events.off(event, listener);
      return hs;
    },
    store,
    options: publicOptions,
    close() {
      for (const detach of [...detachers]) detach();
      registry.close();
      core.heartbeat.stop();
      access.dispose();
      const off = emitter.removeListener;
      if (typeof off === 'function') {
        off.call(store, 'expired', onStoreDrop);
        off.call(store, 'evicted', onStoreDrop);
      }
      if (ownStore) (store as MemoryStore).close();
      // Resolves once the bus's own connection is unsubscribed and closed; the app's client stays the app's to close.
      return bus ? bus.close().catch(() => {}) : Promise.resolve();
    },
  };
  return Object.freeze(hs);
}
