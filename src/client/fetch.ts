/**
 * session.fetch: `fetch` with the bearer for the API's origin (and attachTo) only, cookies included, and one retry
 * after a single-flight renewal when the server says `invalid_token`. A network error is the caller's: it never
 * touches the token (offline is not logged out). A Session-Token is taken only from an answer whose final URL is
 * the API's own origin: never from an attachTo origin, never after a redirect elsewhere (someone else's session
 * handed to this page, a login CSRF).
 */
import { HEADERS } from '../shared/protocol.js';
import { BEARER, noop, type Core } from './core.js';

export const createFetch =
  (core: Core) =>
  async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // Duck-typed: a Request made in another realm (an iframe's) is not `instanceof` this one's.
    const request = typeof (input as Request).clone == 'function' ? (input as Request) : null;
    // Relative paths resolve against the API, never the page (a file:// page has no useful base).
    const url = new URL(request ? request.url : String(input), core.options.url);
    if (!core.options.origins.has(url.origin)) return fetch(input, init);
    await core.ready().catch(noop);
    const epoch = core.epoch;
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
    // res.url is the final URL after redirects ('' only for a synthetic Response: then the one asked for).
    if (new URL(res.url || url).origin == core.options.url.origin) core.adopt(res.headers.get(HEADERS.sessionToken), undefined, epoch);
    return res;
  };
