/**
 * req.session over HTTP, whichever credential found it: express-session's own Session, saved at res.end() when
 * modified, touched otherwise, with the cookie set by express-session's rules (resave: false,
 * saveUninitialized: false, rolling: false). On top: regenerate()/destroy() close the session's websockets,
 * update() is the atomic read-modify-write, and a fresh token rides in `Session-Token` when the id changed or the
 * presented token is past half its life. Headers are added when the response writes them (writeHead hook, as
 * on-headers does), so handlers can still change the session until then.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADERS } from '../../shared/protocol.js';
import { HybridSessionError } from '../../shared/errors.js';
import { isSecure, setSessionCookie } from '../credentials/cookie.js';
import { issueFor, type Core } from '../context.js';
import { endSession, saveSession } from '../lifecycle.js';
import {
  defineMethod,
  expiresOf,
  generateSession,
  hashSession,
  inflateSession,
  newCookie,
  newSessionId,
  replaceData,
} from '../store/session-object.js';
import type { SessionData } from '../store/access.js';
import type { VerifiedToken } from '../credentials/token.js';
import type { IssuedToken, NextFunction, SessionObject, Store } from '../types.js';
import { updateSession } from '../store/update.js';
import { promote } from '../store/provisional.js';
import { readMeta, type SessionMeta } from '../store/session-meta.js';

type SessionRequest = IncomingMessage & { session?: SessionObject; sessionID?: string; sessionStore?: Store };

export interface ResolvedFrom {
  /** 'bearer' and 'cookie' loaded a stored session; 'new' made one in memory (saved only if modified). */
  via: 'bearer' | 'cookie' | 'new';
  /** Id from a validly signed cookie, even when its session was gone. */
  cookieId: string | undefined;
  token: VerifiedToken | undefined;
  data: SessionData | undefined;
  sid: string | undefined;
  /** The current generation's token for `Session-Token`: the bearer was renewed, or another request renewed it first. */
  renewed: IssuedToken | undefined;
}

interface Ctx {
  core: Core;
  req: SessionRequest;
  res: ServerResponse;
  from: ResolvedFrom;
  /** The id loaded from the store at the start (none for a new session). */
  loadedId: string | undefined;
  originalId: string;
  originalHash: string;
  savedHash: string | undefined;
  savedId: string | undefined;
  touched: boolean;
  /** The save failed before the status line: the error response carries no cookie and no token. */
  failed: boolean;
  /** The expiry the store holds for the loaded session (ms; NaN for a new one): what a touch would move. */
  storedExpires: number;
  /** The library record a session regenerate() made starts with (the binding it keeps): [its id, record]. */
  record?: [string, SessionMeta];
}

function callbackOf(fn: unknown): (err?: unknown) => void {
  return typeof fn === 'function' ? (fn as (err?: unknown) => void) : () => {};
}

function isModified(ctx: Ctx, sess: SessionObject): boolean {
  return ctx.originalId !== sess.id || ctx.originalHash !== hashSession(sess);
}

function isSaved(ctx: Ctx, sess: SessionObject): boolean {
  return (ctx.savedId ?? ctx.originalId) === sess.id && ctx.savedHash === hashSession(sess);
}

function shouldSave(ctx: Ctx): boolean {
  const { req } = ctx;
  if (!req.session || typeof req.sessionID !== 'string') return false;
  return !ctx.savedHash && ctx.loadedId !== req.sessionID ? isModified(ctx, req.session) : !isSaved(ctx, req.session);
}

function shouldTouch(ctx: Ctx): boolean {
  return typeof ctx.req.sessionID === 'string' && ctx.loadedId === ctx.req.sessionID && !shouldSave(ctx);
}

function shouldSetCookie(ctx: Ctx): boolean {
  const { req, from } = ctx;
  const sess = req.session;
  if (!sess || typeof req.sessionID !== 'string') return false;
  // A bearer client does not need the cookie; it gets one only when the id changed (regenerate at login), so a
  // same-origin browser holding both stays on the new session.
  if (from.via === 'bearer') return req.sessionID !== ctx.loadedId;
  if (from.cookieId !== req.sessionID) return isModified(ctx, sess) || ctx.savedHash !== undefined;
  return sess.cookie.expires != null && isModified(ctx, sess);
}

/**
 * The store is touched only when that moves the session's stored expiry forward by touchInterval or more, as a
 * websocket's activity is (DESIGN "Websocket lifetime": at most once per min(60 s, maxAge / 4)): a session in use
 * then costs one store round trip per request (the read), not two (issue 17). A stored expiry can lag a touch on
 * every request by less than touchInterval. An expiry moved back (the app shortened cookie.maxAge) is always written.
 */
function touchDue(ctx: Ctx, sess: SessionObject): boolean {
  const moved = expiresOf(sess) - ctx.storedExpires;
  return !(moved >= 0 && moved < ctx.core.options.touchInterval);
}

function touchOnce(ctx: Ctx): void {
  if (ctx.touched || !ctx.req.session) return;
  ctx.req.session.touch();
  ctx.touched = true;
}

function wrap(ctx: Ctx, sess: SessionObject): void {
  const { core, req } = ctx;
  const store = core.store;

  defineMethod(sess, 'save', function save(this: SessionObject, fn?: unknown) {
    const cb = callbackOf(fn);
    const hash = hashSession(this);
    const id = this.id;
    // A session this request loaded (or wrote) must still exist: one ended meanwhile is never written back.
    const existing = ctx.loadedId === id || ctx.savedId === id;
    saveSession(core, id, this, existing, ctx.record?.[0] === id ? ctx.record[1] : undefined).then(
      () => {
        ctx.savedHash = hash;
        ctx.savedId = id;
        cb();
      },
      (err: unknown) => cb(err),
    );
    return this;
  });

  defineMethod(sess, 'reload', function reload(this: SessionObject, fn?: unknown) {
    const cb = callbackOf(fn);
    core.access.get(this.id).then(
      (data) => {
        if (!data) return cb(new Error('failed to load session'));
        inflateSession(store, req as never, data);
        wrap(ctx, req.session!);
        cb();
      },
      (err) => cb(err),
    );
    return this;
  });

  defineMethod(sess, 'destroy', function destroy(this: SessionObject, fn?: unknown) {
    const cb = callbackOf(fn);
    const id = this.id;
    delete req.session;
    endSession(core, id, { req, res: ctx.res }).then(() => cb(), (err) => cb(err));
    return this;
  });

  defineMethod(sess, 'regenerate', function regenerate(this: SessionObject, fn?: unknown, more?: unknown) {
    // regenerate(cb) as express-session. regenerate({ keepSockets: true }, cb) (SocketStream's setUserId) is the
    // same since DESIGN "Login moves only the caller": the request moves, every socket of the old id closes 4401.
    const cb = callbackOf(typeof fn === 'function' ? fn : more);
    const oldId = this.id;
    // The new session stays bound to the key of the old (DESIGN "Device binding"): its token goes to the same device
    // (Session-Token), and unbound it would work as a plain Bearer, copied, until the next renewal bound it. Read
    // from the session as stored when the request began, never from req.session (the app may have assigned into it).
    const { jkt } = readMeta(ctx.loadedId === oldId ? ctx.from.data : undefined);
    // The old session's sockets close (4401) only once this response, which carries the new token
    // (Session-Token), has gone out: a client that renews on 4401 then already holds the new token.
    endSession(core, oldId, { res: ctx.res, closeAfterResponse: true }).then(
      () => {
        req.sessionID = newSessionId();
        ctx.record = jkt === undefined ? undefined : [req.sessionID, { v: 0, jkt }];
        wrap(ctx, generateSession(req as never, newCookie(core.options, req)));
        cb();
      },
      (err) => cb(err),
    );
    return this;
  });

  defineMethod(sess, 'update', async function update(this: SessionObject, fn: (s: SessionObject) => unknown) {
    const id = this.id;
    // A session made in this request is not in the store yet: put it there first, then update the stored copy.
    if (ctx.loadedId !== id && ctx.savedId !== id) {
      await new Promise<void>((resolve, reject) => this.save((err?: unknown) => (err ? reject(err) : resolve())));
    }
    const detached = { sessionID: id, sessionStore: store };
    const saved = await updateSession(core, id, (data) => inflateSession(store, detached, data), fn);
    if (req.session === this) {
      replaceData(this, saved, true);
      ctx.savedHash = hashSession(this);
      ctx.savedId = id;
    }
    return req.session === this ? this : saved;
  });
}

/** Installs req.session (from stored data, or new) and the response hooks. */
export function attachHttpSession(core: Core, req: SessionRequest, res: ServerResponse, from: ResolvedFrom, next: NextFunction): void {
  req.sessionStore = core.store;
  let loadedId: string | undefined;
  // Before inflating: express-session's Session shares (and touch() moves) the loaded cookie.
  const storedExpires = from.data ? expiresOf(from.data) : NaN;
  if (from.data && from.sid !== undefined) {
    req.sessionID = from.sid;
    inflateSession(core.store, req as never, from.data);
    loadedId = from.sid;
  } else {
    req.sessionID = newSessionId();
    generateSession(req as never, newCookie(core.options, req));
  }
  const sess = req.session!;
  const hash = hashSession(sess);
  const ctx: Ctx = {
    core,
    req,
    res,
    from,
    loadedId,
    originalId: req.sessionID,
    originalHash: hash,
    // resave: false — a loaded session counts as saved until it changes.
    savedHash: loadedId === undefined ? undefined : hash,
    savedId: undefined,
    touched: false,
    failed: false,
    storedExpires,
  };
  // A request other than the token endpoint uses a provisional session: from now on it lives maxAge. Done after the
  // hash above, so it counts as a modification and is saved (and the cookie re-set) at res.end().
  if (loadedId !== undefined) promote(sess as unknown as Record<string, unknown>, core.options.maxAge);
  wrap(ctx, sess);
  hookHeaders(ctx);
  hookEnd(ctx, next);
}

function onHeaders(ctx: Ctx): void {
  const { core, req, res, from } = ctx;
  const sess = req.session;
  if (ctx.failed || !sess || typeof req.sessionID !== 'string') return;
  const options = core.options;

  // The id only changes through regenerate(), whose new session is saved at res.end().
  const regenerated = req.sessionID !== ctx.originalId;
  // A renewal was decided (and written) before the app ran (renewal.ts admitToken): every response to the same
  // token carries the same new one.
  const renewed = !regenerated && from.renewed !== undefined && req.sessionID === from.sid ? from.renewed : undefined;
  if (regenerated || renewed) {
    touchOnce(ctx);
    const { token } = renewed ?? issueFor(options, req.sessionID, expiresOf(sess));
    res.setHeader(HEADERS.sessionToken, token);
    // A response carrying a credential must never sit in a shared cache.
    res.setHeader('Cache-Control', 'no-store');
  }

  if (!shouldSetCookie(ctx)) return;
  if (sess.cookie.secure && !isSecure(req, options.proxy)) return;
  touchOnce(ctx);
  const data = (sess.cookie as unknown as { data: Record<string, unknown> }).data;
  setSessionCookie(res, options.cookie.name, req.sessionID, options.secrets[0]!, data as never);
}

function hookHeaders(ctx: Ctx): void {
  const res = ctx.res;
  const prev = res.writeHead;
  let fired = false;
  res.writeHead = function writeHead(this: ServerResponse, ...args: unknown[]) {
    if (!fired) {
      fired = true;
      // Headers passed to writeHead(status, headers) win over setHeader: apply them first so ours merge in.
      const headers = typeof args[1] === 'object' ? args[1] : args[2];
      if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
        for (const [k, v] of Object.entries(headers as Record<string, string>)) if (v !== undefined) this.setHeader(k, v);
        if (typeof args[1] === 'object') args.length = 1;
        else args.length = 2;
      }
      onHeaders(ctx);
    }
    return (prev as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/** Headers the middleware set before the app ran (CORS): kept on the error response so a browser can read it. */
const KEPT_ON_FAILURE = /^(access-control-|vary$)/i;

/**
 * express-session's end proxy, with one change (DESIGN "No 2xx for a lost write"): when the app modified the session
 * and ends a response whose headers have not gone out (res.json, res.send, res.end(body)), the save finishes before
 * the status line. A failed save then discards the app's answer (nothing half-written) and hands the error to
 * next(err): 500 HS_ERR_STORE, 503 HS_ERR_STORE_UNAVAILABLE, 401 HS_ERR_SESSION_ENDED. A streamed response (headers
 * already out) keeps express-session's order: its last byte waits for the save, and a failure goes to next(err).
 */
function hookEnd(ctx: Ctx, next: NextFunction): void {
  const { res, req, core } = ctx;
  const _end = res.end as (...a: unknown[]) => ServerResponse;
  const _write = res.write as (...a: unknown[]) => boolean;
  let ended = false;
  const fail = (err: unknown) => setImmediate(() => next(err));

  const failBeforeStatus = (err: unknown) => {
    ctx.failed = true;
    res.end = _end as typeof res.end;
    res.write = _write as typeof res.write;
    for (const name of res.getHeaderNames()) if (!KEPT_ON_FAILURE.test(name)) res.removeHeader(name);
    res.statusCode = 200;
    fail(err instanceof HybridSessionError ? err : new HybridSessionError('HS_ERR_STORE', 'session store failed (set)', { cause: err }));
  };

  res.end = function end(this: ServerResponse, chunk?: unknown, encoding?: unknown, cb?: unknown) {
    if (ended) return this;
    ended = true;
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
      encoding = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    let sync = true;
    const writeend = () => {
      if (sync) {
        _end.call(res, chunk, encoding, cb);
        sync = false;
        return;
      }
      _end.call(res, cb);
    };
    const writetop = () => {
      if (!sync) return res;
      if (!res.headersSent) (res as unknown as { _implicitHeader(): void })._implicitHeader();
      if (chunk == null) return res;
      const contentLength = Number(res.getHeader('Content-Length'));
      if (!Number.isNaN(contentLength) && contentLength > 0) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encoding as BufferEncoding | undefined);
        encoding = undefined;
        if (buf.length !== 0) {
          _write.call(res, buf.subarray(0, buf.length - 1));
          chunk = buf.subarray(buf.length - 1);
          return res;
        }
        chunk = buf;
      }
      _write.call(res, chunk, encoding);
      sync = false;
      return res;
    };

    if (!req.session) return _end.call(res, chunk, encoding, cb);
    touchOnce(ctx);
    if (shouldSave(ctx)) {
      if (!res.headersSent) {
        req.session.save((err?: unknown) => {
          if (err) return failBeforeStatus(err);
          _end.call(res, chunk, encoding, cb);
        });
        return res;
      }
      req.session.save((err?: unknown) => {
        if (err) fail(err);
        writeend();
      });
      return writetop();
    }
    if (shouldTouch(ctx) && touchDue(ctx, req.session)) {
      core.access.touch(req.sessionID!, req.session).then(
        () => writeend(),
        (err) => {
          fail(err);
          writeend();
        },
      );
      return writetop();
    }
    return _end.call(res, chunk, encoding, cb);
  } as typeof res.end;
}
