/**
 * What the msw unit tests of the client share: a fake API origin whose token endpoint issues numbered tokens and
 * counts its requests, a TokenStorage over a Map (Node has neither IndexedDB nor localStorage), and event waits.
 */
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import type { Session } from '../../src/client/index.ts';
import type { SessionEvents } from '../../src/client/events.ts';

export const API = 'https://api.example.test';
export const TOKEN_URL = `${API}/session/token`;

let keys = 0;
/** Each session gets its own key: sessions sharing one would talk over Node's BroadcastChannel like tabs. */
export const uniqueKey = () => `hs-test-${process.pid}-${++keys}`;

export interface Issuer {
  posts: number;
  deletes: number;
  /** Authorization header of each POST, in order. */
  bearers: (string | null)[];
  current: string | null;
  next: (created?: boolean) => { token: string; expiresAt: number; storage: 'memory'; created: boolean };
  /** Lifetime of issued tokens (ms); the client renews at half of it. */
  life: number;
  /** When set, the next POST answers created: true. */
  created: boolean;
}

/** Token endpoint handlers: POST issues `tok1`, `tok2`…; DELETE answers 204. */
export function tokenEndpoint(issuer: Partial<Issuer> = {}) {
  let n = 0;
  const state: Issuer = {
    posts: 0,
    deletes: 0,
    bearers: [],
    current: null,
    life: 3_600_000,
    created: false,
    next(created = false) {
      state.current = `v1.tok${++n}`;
      return { token: state.current, expiresAt: Date.now() + state.life, storage: 'memory', created };
    },
    ...issuer,
  };
  const handlers = [
    http.post(TOKEN_URL, ({ request }) => {
      state.posts++;
      state.bearers.push(request.headers.get('authorization'));
      const created = state.created;
      state.created = false;
      return HttpResponse.json(state.next(created), { headers: { 'Cache-Control': 'no-store' } });
    }),
    http.delete(TOKEN_URL, () => {
      state.deletes++;
      return new HttpResponse(null, { status: 204 });
    }),
  ];
  return { state, handlers };
}

export function mswServer() {
  const server = setupServer();
  server.listen({ onUnhandledRequest: 'error' });
  return server;
}

export function mapStorage(init: Record<string, string> = {}) {
  const map = new Map(Object.entries(init));
  return {
    map,
    writes: 0,
    reads: 0,
    get(k: string) {
      this.reads++;
      return Promise.resolve(map.get(k) ?? null);
    },
    set(k: string, v: string) {
      this.writes++;
      map.set(k, v);
      return Promise.resolve();
    },
    del(k: string) {
      map.delete(k);
      return Promise.resolve();
    },
  };
}

/** The next `name` event of the session, or a rejection after `ms` (a bound, not a timing assertion). */
export function nextEvent<K extends keyof SessionEvents>(session: Session, name: K, ms = 5000): Promise<SessionEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${name} event within ${ms} ms`));
    }, ms);
    const off = session.on(name, (payload) => {
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

export const invalidToken = () =>
  new HttpResponse(JSON.stringify({ error: 'invalid_token' }), {
    status: 401,
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"', 'Content-Type': 'application/json' },
  });
