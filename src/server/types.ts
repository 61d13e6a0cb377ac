/**
 * The public types of `hybrid-session/server`. Internals see only NormalizedOptions (options.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type session from 'express-session';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ServerEventName, ServerListener } from './events.js';
export type { ReuseEvent, ServerEventMap, ServerEventName, ServerListener } from './events.js';

export type Store = session.Store;
/** express-session's Session with the app's data and hybrid-session's update(). */
export type SessionObject = session.Session & Partial<session.SessionData> & Record<string, unknown>;

export interface CookieOptions {
  /** default 'connect.sid' (express-session's, so existing cookies keep working) */
  name?: string;
  /** default true */
  httpOnly?: boolean;
  /** default 'auto': secure when the request came over HTTPS */
  secure?: boolean | 'auto';
  /** default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
  /** default '/' */
  path?: string;
  domain?: string;
}

export interface HybridSessionOptions {
  /** Required. The first signs cookies and tokens; every one verifies them (rotation). */
  secret: string | string[];
  /** Any express-session Store; default: a bounded, expiring memory store (one process only). */
  store?: Store;
  /** Session lifetime in ms, renewed by activity; default 30 days. */
  maxAge?: number;
  /** Token lifetime in ms; default 1 hour (renewed at half-life). A token never outlives its session. */
  tokenMaxAge?: number;
  /**
   * ms the previous token generation keeps working on requests and handshakes after a rotation (requests in flight,
   * tabs not yet told); default 60 000. Past it, presenting it to the token endpoint counts as reuse.
   */
  rotationGrace?: number;
  cookie?: CookieOptions;
  /** default '/session/token', matched against the full request path (mount point included) */
  tokenPath?: string;
  /** Exact origins (`"null"` for file:// apps) or a predicate. Same-origin and Origin-less requests are always allowed. */
  allowedOrigins?: string[] | ((origin: string) => boolean);
  /** Read `?session_token=` on websocket upgrades; default false (it leaks into logs). */
  allowQueryToken?: boolean;
  /** SocketStream's switch: where clients should keep the token (sent as the `storage` hint). */
  ws?: { client?: { localStorage?: boolean; indexedDB?: boolean } };
  /**
   * Trust `X-Forwarded-Proto` for `secure: 'auto'` (as express-session's `proxy`); default: Express's `req.secure`
   * when present, else only a TLS socket counts.
   */
  proxy?: boolean;
  /**
   * ms between websocket pings; a socket that has not answered the previous ping (a vanished peer, a half-open TCP
   * connection) is terminated, so it is dropped within two intervals. Browsers answer pings by themselves.
   * Default 30 000; 0 disables.
   */
  heartbeat?: number;
  /**
   * ms a call to `store` may take before the request gets 503 (a websocket 1011) with HS_ERR_STORE_UNAVAILABLE,
   * instead of waiting for a store that hangs (a network partition without a reset). Default 10 000; 0 waits
   * forever. The built-in MemoryStore answers in-process and is never timed.
   */
  storeTimeout?: number;
  /**
   * Several processes: end a session's websockets on every process at once (DELETE on the token endpoint, destroy(),
   * regenerate(), hs.revoke()) over Redis pub/sub. `redis` is the app's node-redis client (the one under
   * connect-redis); a second connection is made from it with duplicate() to listen, and closed by hs.close().
   * `channel` defaults to 'hybrid-session:revoked'; processes that share sessions must share it.
   */
  revocation?: { redis: RevocationRedisClient; channel?: string };
  /**
   * Device binding (DPoP, RFC 9449): 'optional' (default) binds a session at its first token request that carries a
   * valid proof, and from then on its tokens need proofs by that key; 'required' also refuses token requests without
   * one; 'off' ignores proofs.
   */
  binding?: 'off' | 'optional' | 'required';
  /** ms either side of the server's clock a proof's iat may be; default 300 000. A proof with the server's nonce is fresh anyway. */
  proofMaxAge?: number;
  /**
   * Open websockets one session may hold (DESIGN "Bounds"); a new one past it closes the session's oldest with 4408
   * ("too many connections"). Default 32: tabs and devices of one user, not a token replayed a thousand times.
   */
  maxSocketsPerSession?: number;
  /**
   * ms a session the token endpoint made without any credential lives until something other than the token
   * endpoint uses it (sliding); default 15 minutes, never more than maxAge. Such sessions are evicted first by the
   * memory store and expire quickly on Redis: a flood of new-session requests cannot push out a used session.
   */
  provisionalMaxAge?: number;
}

/** What `revocation.redis` must offer: a node-redis 4+ client (`createClient` from 'redis'). */
export interface RevocationRedisClient {
  readonly isOpen: boolean;
  duplicate(overrides?: Record<string, unknown>): unknown;
  publish(channel: string, message: string): Promise<unknown>;
}

export type NextFunction = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

export interface IssuedToken {
  token: string;
  /** ms since epoch */
  expiresAt: number;
}

export interface AuthenticatedRequest {
  sessionID: string;
  /** The session as the store held it when the request was authenticated (an express-session Session). */
  session: SessionObject;
  /** How the request proved it: a bearer token (subprotocol, Authorization or opted-in query) or the cookie. */
  via: 'bearer' | 'cookie';
}

export interface RegeneratedSession extends IssuedToken {
  sessionID: string;
  session: SessionObject;
}

/** One websocket's view of its session: nothing is read until asked, every load() is fresh from the store. */
export interface SessionHandle {
  /** The session id the socket is bound to (changes after regenerate()). */
  readonly sessionID: string;
  load(): Promise<SessionObject>;
  /** Saves what load() returned (last write wins, as express-session's save). */
  save(): Promise<void>;
  /** Atomic read-modify-write, retried on conflict; resolves to the saved session. */
  update(fn: (session: SessionObject) => void | Promise<void>): Promise<SessionObject>;
  /**
   * New session id (empty session, as express-session's regenerate), this socket re-bound to it, the old id destroyed
   * and its other sockets closed 4401, never told the new token (DESIGN "Login moves only the caller": one of them may
   * be an attacker's who planted the pre-login session). `keepSockets` is accepted for compatibility and changes nothing.
   */
  regenerate(options?: { keepSockets?: boolean }): Promise<RegeneratedSession>;
  /** Destroys the session; every socket of it (this one included) closes with 4401. */
  destroy(): Promise<void>;
  /** A fresh token for this socket's session (e.g. to hand over an RPC). */
  issueToken(): Promise<IssuedToken>;
}

export interface HybridSession {
  /** Express / Connect / plain http: req.session from cookie or bearer; serves tokenPath; CORS. */
  readonly middleware: Middleware;
  /** Authenticates every upgrade of `server` for `wss` (created with `noServer: true`); returns a detach function. */
  attach(server: { on(event: 'upgrade', l: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown; off?(event: 'upgrade', l: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown; removeListener(event: 'upgrade', l: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown }, wss: WebSocketServer): () => void;
  /** One upgrade, for apps that route upgrades themselves (several WebSocketServers on one http server). */
  handleUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Lower level: Origin check and credentials of an upgrade-like request; throws a HybridSessionError. */
  authenticate(req: IncomingMessage): Promise<AuthenticatedRequest>;
  sessionOf(ws: WebSocket): SessionHandle;
  /**
   * This process's open websockets of a session (those hs.attach() / hs.handleUpgrade() authenticated, and moved to
   * it by a sign-in), to push to every view of one session; a new array, empty when none.
   */
  socketsOf(sessionID: string): WebSocket[];
  /** A token for a live session (touches it); HS_ERR_INVALID_TOKEN when the session is gone. */
  issueToken(sessionID: string): Promise<IssuedToken>;
  /** Destroys the session in the store and closes its sockets (4401). */
  revoke(sessionID: string): Promise<void>;
  /**
   * `'reuse'`: a rotated-out token came back to the token endpoint, so two parties held the session; it has been
   * ended everywhere (store, cookie, sockets on every process) before the listener runs. Alert the user, log it.
   */
  on<E extends ServerEventName>(event: E, listener: ServerListener<E>): HybridSession;
  once<E extends ServerEventName>(event: E, listener: ServerListener<E>): HybridSession;
  off<E extends ServerEventName>(event: E, listener: ServerListener<E>): HybridSession;
  readonly store: Store;
  readonly options: Readonly<NormalizedPublicOptions>;
  /**
   * Stops timers (expiry checks, the default store's sweep), detaches upgrade listeners and closes the revocation
   * bus's connection (resolves once it is closed); sockets stay open, the app's own Redis client too.
   */
  close(): Promise<void>;
}

/** What hs.options shows: the normalised options, secrets hidden. */
export interface NormalizedPublicOptions {
  maxAge: number;
  tokenMaxAge: number;
  rotationGrace: number;
  tokenPath: string;
  allowQueryToken: boolean;
  storage: 'indexedDB' | 'localStorage' | 'memory';
  cookie: Readonly<Required<Omit<CookieOptions, 'domain'>> & { domain: string | undefined }>;
  touchInterval: number;
  proxy: boolean | undefined;
  binding: 'off' | 'optional' | 'required';
  proofMaxAge: number;
}

export type { ServerResponse, IncomingMessage };
