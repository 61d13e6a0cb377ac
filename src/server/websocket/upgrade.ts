/**
 * Websocket upgrades (DESIGN "Websocket handshake"), for a `ws` WebSocketServer in noServer mode:
 *   Origin not allowed          → 403 before the upgrade (cross-site websocket hijacking);
 *   bearer invalid / none       → the upgrade completes, then close 4401 (a browser cannot read an HTTP 401 here);
 *   store failure               → the upgrade completes, then close 1011;
 *   otherwise                   → 'connection' as usual, with req.sessionID / req.session set.
 * The bearer comes from the `hybrid-session.bearer.<token>` subprotocol (or Authorization for native clients, or
 * `?session_token=` when opted in); the server selects `hybrid-session` or the app's protocol, never the bearer.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { HybridSessionError } from '../../shared/errors.js';
import { BEARER_PREFIX, CLOSE_CODES, DPOP_PREFIX, SUBPROTOCOL } from '../../shared/protocol.js';
import { isSecure } from '../credentials/cookie.js';
import { judgeTokenUse } from '../credentials/possession.js';
import type { ProofResult } from '../credentials/proof.js';
import { readMeta } from '../store/session-meta.js';
import type { Core } from '../context.js';
import { resolveCredentials } from '../credentials/resolve.js';
import { refusal } from '../credentials/refusal.js';
import { parseProtocols, readProof, requestHtu } from '../credentials/bearer.js';
import { expiresOf, inflateSession } from '../store/session-object.js';
import { promote } from '../store/provisional.js';
import { closeSocket } from './socket-registry.js';
import { saveSession } from '../lifecycle.js';
import type { SessionData } from '../store/access.js';
import { admitToken } from '../renewal.js';
import type { AuthenticatedRequest, SessionObject, Store } from '../types.js';

const kProtocolsWrapped = Symbol.for('hybrid-session.handleProtocols');
/** Set on an upgrade request once a WebSocketServer took it, so a second attach()ed server leaves it alone. */
export const kClaimed = Symbol.for('hybrid-session.upgradeClaimed');

function invalid(message: string): HybridSessionError {
  return refusal('HS_ERR_INVALID_TOKEN', message);
}

/** Origin, then the one credential the request carries, then the store. Throws a HybridSessionError. */
export function authenticate(core: Core, req: IncomingMessage): Promise<AuthenticatedRequest> {
  return authenticateOffer(core, req, parseProtocols(req.headers['sec-websocket-protocol']));
}

const NO_PROOF = { dpop: false, proof: undefined };

/**
 * A handshake's proof: the `hybrid-session.dpop.<proof>` subprotocol (browsers), else the DPoP header beside
 * `Authorization: DPoP` (native clients); htm GET, htu the websocket URL as this server saw it.
 */
function handshakeProof(core: Core, req: IncomingMessage, protocols: readonly string[], token: string, authDpop: boolean): { dpop: boolean; proof: ProofResult | undefined } {
  const offered = protocols.filter((p) => p.startsWith(DPOP_PREFIX));
  const header = readProof(req);
  const dpop = offered.length > 0 || authDpop;
  if (!dpop) return NO_PROOF;
  // Two proofs in one offer are not one proof: refused as a malformed one.
  const value = offered.length > 1 ? 'several.proofs.offered' : offered.length === 1 ? offered[0]!.slice(DPOP_PREFIX.length) : header;
  const htu = requestHtu(req, isSecure(req, core.options.proxy), true);
  return { dpop, proof: value === undefined ? undefined : core.proofs.verify(value, { htm: 'GET', htu, token }) };
}

/** authenticate() with the Sec-WebSocket-Protocol header already parsed (an upgrade parses it once). */
async function authenticateOffer(core: Core, req: IncomingMessage, protocols: string[] | null): Promise<Authenticated> {
  const { options, access, store } = core;
  // Origin, the one offered bearer (or the cookie) and its MAC: credentials/resolve.ts, before the store is asked.
  const creds = resolveCredentials(req, 'upgrade', options, protocols);
  if (creds.refused) throw creds.refused;
  const token = creds.via === 'bearer' ? creds.token : undefined;

  if (token?.verified) {
    const verified = token.verified;
    // The proof decides before the store is asked anything too (pure CPU).
    const { dpop, proof } = options.binding === 'off' ? NO_PROOF : handshakeProof(core, req, protocols!, token.raw, token.dpop);
    if (!access.ready) throw access.unavailable();
    const data = await access.get(verified.sid);
    if (!data) throw invalid('the session of this token has ended');
    const refused = judgeTokenUse(options.binding, readMeta(data).jkt, dpop, proof);
    if (refused) throw refusal(refused.code, refused.message);
    // A rotated-out generation past the grace is 4401, like any invalid token; a first use is recorded.
    const admitted = await admitToken(core, verified.sid, data, verified, 'handshake');
    if (admitted.kind === 'refuse') throw invalid('the bearer token was rotated out');
    const promoting = promoteStored(core, verified.sid, admitted.data);
    if (promoting) await promoting;
    return authenticated(store, verified.sid, admitted.data, 'bearer');
  }

  const cookieId = creds.candidates[0]!;
  if (!access.ready) throw access.unavailable();
  const data = await access.get(cookieId);
  // Never a new session over a websocket: the cookie's session must exist.
  if (!data) throw refusal('HS_ERR_NO_CREDENTIALS', 'the session of this cookie has ended');
  const promoting = promoteStored(core, cookieId, data);
  if (promoting) await promoting;
  return authenticated(store, cookieId, data, 'cookie');
}

/**
 * A handshake uses the session: a provisional one now lives maxAge (store/provisional.ts), stored before the upgrade
 * by a save that keeps the stored library record (lifecycle.ts), so it cannot undo a rotation made since the read.
 * The write's promise, or undefined when there is nothing to write (the common case: no promise, no extra tick).
 */
function promoteStored(core: Core, sid: string, data: SessionData): Promise<void> | undefined {
  return promote(data as unknown as Record<string, unknown>, core.options.maxAge) ? saveSession(core, sid, data, true) : undefined;
}

/** What a handshake needs besides the result: the session's expiry, read from the stored data. */
export type Authenticated = AuthenticatedRequest & { readonly expiresAt: number };

/**
 * The express-session Session (and its Cookie) is built on first read of `session`, not per handshake: most
 * websocket apps never read the upgrade request's session (they load it when a message needs it), and building
 * it was a tenth of an authenticated handshake's cost. Reading it any time gives the data as authenticated.
 *
 * `session` stays an own enumerable accessor, as it always was, but its getter and setter are the same two
 * functions for every handshake (state in private fields): an object literal with accessors made two closures per
 * handshake and gave every result its own hidden class, several µs each (issue 17's profile).
 */
class HandshakeAuth implements Authenticated {
  readonly sessionID: string;
  readonly via: 'bearer' | 'cookie';
  readonly expiresAt: number;
  declare session: SessionObject;
  #store: Store;
  #data: SessionData;
  #built: SessionObject | undefined;

  static readonly #sessionProperty: PropertyDescriptor = {
    configurable: true,
    enumerable: true,
    get(this: HandshakeAuth): SessionObject {
      return (this.#built ??= inflateSession(this.#store, { sessionID: this.sessionID, sessionStore: this.#store }, this.#data));
    },
    set(this: HandshakeAuth, value: SessionObject) {
      this.#built = value;
    },
  };

  constructor(store: Store, sessionID: string, data: SessionData, via: 'bearer' | 'cookie') {
    this.sessionID = sessionID;
    this.via = via;
    this.expiresAt = expiresOf(data);
    Object.defineProperty(this, 'session', HandshakeAuth.#sessionProperty);
    this.#store = store;
    this.#data = data;
    this.#built = undefined;
  }
}

function authenticated(store: Store, sessionID: string, data: SessionData, via: 'bearer' | 'cookie'): Authenticated {
  return new HandshakeAuth(store, sessionID, data, via);
}

/** Where an upgrade request's lazy `session` finds its handshake's result (see requestSession). */
const kAuth = Symbol('hybrid-session.handshakeAuth');
type AuthedRequest = UpgradeRequest & { [kAuth]?: Authenticated };

/**
 * req.session on an authenticated upgrade request, as express-session would set it, built when first read; assigning
 * it replaces it with a plain value. One descriptor for every request: a getter and setter made per handshake cost
 * 10–20 µs each (a new hidden class per request), more than the MAC.
 */
const requestSession: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: AuthedRequest): SessionObject | undefined {
    return this[kAuth]?.session;
  },
  set(this: AuthedRequest, value: SessionObject) {
    Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true });
  },
};

/** What a 4401 says: RFC 9449's error names for a proof, RFC 6750's for the token. */
function closeReason(failure: unknown): string {
  const code = failure instanceof HybridSessionError ? failure.code : undefined;
  return code === 'HS_ERR_USE_DPOP_NONCE' ? 'use_dpop_nonce' : code === 'HS_ERR_INVALID_DPOP_PROOF' ? 'invalid_dpop_proof' : 'invalid_token';
}

const destroyOnError = function (this: Duplex) {
  this.destroy();
};

/**
 * ws's abortHandshake: a plain HTTP answer on the raw socket, then close. Node's http server has taken its own
 * 'error' listener off an upgrade's socket, so the one added here stays until the socket is destroyed: a client
 * that resets while the refusal is written (`write ECONNRESET`) would otherwise throw an uncaught 'error' and end
 * the process.
 */
export function abortHandshake(socket: Duplex, status: number, message = STATUS_CODES[status] ?? ''): void {
  if (!socket.listeners('error').includes(destroyOnError)) socket.on('error', destroyOnError);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      `Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  );
}

/**
 * Select `hybrid-session` (or what the app's own handleProtocols picks among the offers minus bearers), never a
 * bearer: ws would otherwise echo the first offered protocol, which may be the token.
 */
export function ensureProtocolSelection(wss: WebSocketServer): void {
  const w = wss as WebSocketServer & { [kProtocolsWrapped]?: boolean; options: { handleProtocols?: unknown } };
  if (w[kProtocolsWrapped]) return;
  w[kProtocolsWrapped] = true;
  const user = w.options.handleProtocols as ((p: Set<string>, req: IncomingMessage) => string | false) | undefined | null;
  const credential = (p: string) => p.startsWith(BEARER_PREFIX) || p.startsWith(DPOP_PREFIX);
  w.options.handleProtocols = (protocols: Set<string>, req: IncomingMessage): string | false => {
    let chosen: unknown;
    if (typeof user === 'function') {
      const offered = new Set<string>();
      for (const p of protocols) if (!credential(p)) offered.add(p);
      chosen = offered.size ? user(offered, req) : false;
    } else if (protocols.has(SUBPROTOCOL)) chosen = SUBPROTOCOL;
    else {
      // The first offer that is not a credential (what ws itself would pick among the rest), else none.
      chosen = false;
      for (const p of protocols) {
        if (!credential(p)) {
          chosen = p;
          break;
        }
      }
    }
    return typeof chosen === 'string' && !credential(chosen) ? chosen : false;
  };
}

export type UpgradeRequest = IncomingMessage & { sessionID?: string; session?: SessionObject; sessionStore?: Store };

export function handleUpgrade(
  core: Core,
  onSession: (ws: WebSocket, req: IncomingMessage, auth: Authenticated) => void,
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const claimed = req as IncomingMessage & { [kClaimed]?: boolean };
  if (claimed[kClaimed]) return;
  claimed[kClaimed] = true;
  ensureProtocolSelection(wss);
  // The client may vanish while the store answers; until ws owns the socket its errors are ours to swallow.
  const onError = () => socket.destroy();
  socket.on('error', onError);
  const protocols = parseProtocols(req.headers['sec-websocket-protocol']);
  if (protocols === null) {
    abortHandshake(socket, 400, 'Invalid Sec-WebSocket-Protocol header');
    return;
  }
  authenticateOffer(core, req, protocols).then(
    (auth) => complete(auth, null),
    (err: unknown) => {
      if (socket.destroyed) return; // the client left while the store answered
      if (err instanceof HybridSessionError && err.code === 'HS_ERR_FORBIDDEN_ORIGIN') {
        // onError stays: the refusal is written to a client that may reset meanwhile.
        abortHandshake(socket, 403, 'Origin not allowed');
        return;
      }
      complete(null, err);
    },
  ).then(undefined, (error: unknown) => {
    // Our code or the app's 'connection' listener threw inside the promise: without this handler it would be an
    // unhandled rejection (the process's end on Node ≥ 15). The socket goes; the app still hears of it.
    socket.destroy();
    process.emitWarning(`hybrid-session: a websocket upgrade failed: ${(error as Error)?.message ?? error}`, { type: 'HybridSessionWarning', code: 'HS_UPGRADE_FAILED' });
  });

  function complete(auth: Authenticated | null, failure: unknown): void {
    socket.removeListener('error', onError);
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!auth) {
        const code = failure instanceof HybridSessionError && failure.closeCode ? failure.closeCode : CLOSE_CODES.internalError;
        closeSocket(ws, code, code === CLOSE_CODES.unauthorized ? closeReason(failure) : 'session store error');
        return;
      }
      const r = req as AuthedRequest;
      r.sessionID = auth.sessionID;
      r[kAuth] = auth;
      Object.defineProperty(r, 'session', requestSession);
      r.sessionStore = core.store;
      onSession(ws, req, auth);
      // Dead peers (half-open TCP) never close by themselves: the heartbeat drops them and so frees the registry.
      core.heartbeat.add(ws);
      wss.emit('connection', ws, req);
    });
  }
}


/** Marks an 'upgrade' listener as hybrid-session's, so a stray upgrade is refused only when nobody else listens. */
export const kOwnListener = Symbol.for('hybrid-session.upgradeListener');
const kRefused = Symbol.for('hybrid-session.upgradeRefused');

/**
 * An upgrade that no attached WebSocketServer claimed (another path): answered 404 and destroyed, unless an
 * 'upgrade' listener that is not ours exists (it may serve that path). Node leaves an upgrade's socket alone and
 * unread, so an upgrade nobody answers keeps its descriptor forever. Checked on the next tick, once every listener
 * of this 'upgrade' event has run (emit is synchronous), so the order listeners were added in does not matter.
 */
export function refuseIfUnclaimed(server: { listeners?(event: 'upgrade'): Function[] }, req: IncomingMessage, socket: Duplex): void {
  // A server-like object that cannot list its listeners: we cannot know that nobody else serves the path.
  if (typeof server.listeners !== 'function') return;
  const r = req as IncomingMessage & { [kClaimed]?: boolean; [kRefused]?: boolean };
  if (r[kRefused]) return;
  r[kRefused] = true;
  // Until the next tick the socket is nobody's: its reset must not throw.
  if (!socket.listeners('error').includes(destroyOnError)) socket.on('error', destroyOnError);
  process.nextTick(() => {
    if (r[kClaimed] || socket.destroyed) return;
    const foreign = server.listeners!('upgrade').some((l) => !(l as { [kOwnListener]?: boolean })[kOwnListener]);
    if (foreign) {
      socket.removeListener('error', destroyOnError);
      return;
    }
    abortHandshake(socket, 404);
  });
}
