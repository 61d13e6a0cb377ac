/**
 * hs.sessionOf(ws): a websocket's session, read fresh from the store on every load(), so a socket sees what HTTP
 * wrote a moment ago and HTTP sees what the socket saved. The loaded object is express-session's Session, with
 * destroy/regenerate/update routed through the handle (sockets closed, socket re-bound).
 */
import type { WebSocket } from 'ws';
import { HybridSessionError } from '../../shared/errors.js';
import { issueFor, type Core } from '../context.js';
import { endSession, saveSession, touchAndIssue } from '../lifecycle.js';
import {
  defineMethod,
  expiresOf,
  inflateSession,
  newCookie,
  newSessionId,
  replaceData,
  type DetachedRequest,
} from '../store/session-object.js';
import type { IssuedToken, RegeneratedSession, SessionHandle, SessionObject } from '../types.js';
import { updateSession } from '../store/update.js';
import { readMeta, rotationOf } from '../store/session-meta.js';

function gone(): HybridSessionError {
  return new HybridSessionError('HS_ERR_INVALID_TOKEN', 'the session of this websocket has ended (destroyed, regenerated or expired)');
}

export class WebSocketSession implements SessionHandle {
  private loaded: SessionObject | undefined;

  constructor(
    private core: Core,
    private ws: WebSocket,
    private sid: string,
    /** The upgrade came over TLS: what a new cookie's secure 'auto' needs of the request, not the request. */
    private secure: boolean,
  ) {}

  get sessionID(): string {
    // The registry is the truth: another socket's regenerate({ keepSockets: true }) may have moved this one.
    return this.core.registry.sessionIdOf(this.ws) ?? this.sid;
  }

  private inflate(sid: string, data: Parameters<typeof inflateSession>[2]): SessionObject {
    const holder: DetachedRequest = { sessionID: sid, sessionStore: this.core.store };
    const sess = inflateSession(this.core.store, holder, data);
    this.wrap(sess);
    return sess;
  }

  private wrap(sess: SessionObject): void {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrapped methods get the Session as `this`
    const handle = this;
    const core = this.core;
    defineMethod(sess, 'reload', function reload(this: SessionObject, fn?: (err?: unknown) => void) {
      const id = this.id;
      core.access.get(id).then(
        (data) => {
          if (!data) return fn?.(new Error('failed to load session'));
          replaceData(this, inflateSession(core.store, { sessionID: id, sessionStore: core.store }, data), false);
          fn?.();
        },
        (err) => fn?.(err),
      );
      return this;
    });
    // express-session's own save() is a plain store.set: a session ended since load() would come back.
    defineMethod(sess, 'save', function save(this: SessionObject, fn?: (err?: unknown) => void) {
      saveSession(core, this.id, this, true).then(() => fn?.(), (err) => fn?.(err));
      return this;
    });
    defineMethod(sess, 'destroy', function destroy(this: SessionObject, fn?: (err?: unknown) => void) {
      endSession(core, this.id).then(() => fn?.(), (err) => fn?.(err));
      return this;
    });
    defineMethod(sess, 'regenerate', function regenerate(this: SessionObject, fn?: (err?: unknown) => void) {
      handle.regenerate().then(() => fn?.(), (err) => fn?.(err));
      return this;
    });
    defineMethod(sess, 'update', async function update(this: SessionObject, fn: (s: SessionObject) => void | Promise<void>) {
      const saved = await handle.update(fn);
      if (saved !== this) replaceData(this, saved, false);
      return this;
    });
  }

  async load(): Promise<SessionObject> {
    const sid = this.sessionID;
    const data = await this.core.access.get(sid);
    if (!data) {
      this.core.registry.closeSession(sid);
      throw gone();
    }
    this.loaded = this.inflate(sid, data);
    return this.loaded;
  }

  async save(): Promise<void> {
    const sess = this.loaded;
    if (!sess) return; // nothing loaded, nothing to save
    await saveSession(this.core, sess.id, sess, true);
  }

  async update(fn: (session: SessionObject) => void | Promise<void>): Promise<SessionObject> {
    const sid = this.sessionID;
    const saved = await updateSession(this.core, sid, (data) => this.inflate(sid, data), fn).catch((err) => {
      if (err instanceof HybridSessionError && err.code === 'HS_ERR_SESSION_ENDED') this.core.registry.closeSession(sid);
      throw err;
    });
    this.loaded = saved;
    return saved;
  }

  async regenerate(options?: { keepSockets?: boolean }): Promise<RegeneratedSession> {
    const { core } = this;
    const oldId = this.sessionID;
    const newId = newSessionId();
    const cookie = newCookie(core.options, this.secure);
    const session = this.inflate(newId, { cookie: JSON.parse(JSON.stringify(cookie)) });
    // Bound as the old session is now (DESIGN "Device binding"; read from the store: a rebinding since this socket
    // loaded it counts): the new token goes to the same device.
    const { jkt } = readMeta(await core.access.get(oldId));
    // The new session exists before the old one ends, so this socket is never bound to nothing.
    await saveSession(core, newId, session, false, jkt === undefined ? undefined : { v: 0, jkt });
    this.sid = newId;
    this.loaded = session;
    const expires = expiresOf(session);
    // Only the caller moves (DESIGN "Login moves only the caller"), whatever `keepSockets` says: another socket of
    // the pre-login session may be an attacker's who planted that session, so it closes 4401 and is never told the
    // new token. The caller's own tabs follow through the client (storage and tab sync).
    void options;
    core.registry.rebind(this.ws, newId, expires);
    await endSession(core, oldId, { keep: this.ws });
    return { sessionID: newId, session, ...issueFor(core.options, newId, expires) };
  }

  async destroy(): Promise<void> {
    await endSession(this.core, this.sessionID);
  }

  async issueToken(): Promise<IssuedToken> {
    return issueToken(this.core, this.sessionID);
  }
}

/** A token for a live session; asking for one is activity, so the session is touched first. */
export async function issueToken(core: Core, sid: string): Promise<IssuedToken> {
  if (typeof sid !== 'string' || sid.length === 0) throw new TypeError('issueToken(sessionID): a session id is required');
  const data = await core.access.get(sid);
  if (!data) throw gone();
  // The current generation, not a rotation: the session's clients keep their tokens (a rotation here would turn
  // them into rotated-out ones, and their next renewal into a false reuse).
  const { token, expiresAt } = await touchAndIssue(core, sid, data, rotationOf(data).gen);
  return { token, expiresAt };
}
