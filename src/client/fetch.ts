/**
 * session.fetch: `fetch` with the bearer for the API's origin (and attachTo) only, cookies included, and one retry
 * after a single-flight renewal when the server says `invalid_token`. A network error is the caller's: it never
 * touches the token (offline is not logged out).
 */
import { HEADERS, isWellFormedToken } from '../shared/protocol.js';
import { BEARER, noop, type Core } from './core.js';

export const createFetch =
  (core: Core) =>
  async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : null;
    // Relative paths resolve against the API, never the page (a file:// page has no useful base).
    const url = new URL(request ? request.url : String(input), core.o.url);
    if (!core.o.origins.has(url.origin)) return fetch(input, init);
    await core.ready().catch(noop);
    let sent: string | null = null;
    const send = () => {
      // A Request is cloned for every attempt, so its body can be sent again.
      const r = new Request(request ? request.clone() : url, { credentials: 'include', ...init });
      sent = r.headers.has(HEADERS.authorization) ? null : core.token;
      if (sent) r.headers.set(HEADERS.authorization, BEARER + sent);
      return fetch(r);
    };
    let res = await send();
    if (sent && res.status == 401 && /invalid_token/.test(res.headers.get(HEADERS.wwwAuthenticate)!)) {
      await core.renew(sent).catch(noop);
      // Retry only with a new token, and not with a stream body: it is gone once sent (the caller gets the 401,
      // and the renewed token for its next try).
      if (core.token != sent && !(init?.body as ReadableStream | undefined)?.getReader) res = await send();
    }
    const fresh = res.headers.get(HEADERS.sessionToken);
    if (isWellFormedToken(fresh)) core.take(fresh);
    return res;
  };
