/**
 * session.fetch: `fetch` with the bearer for the API's origin (and attachTo) only, cookies included, and one retry
 * after a single-flight renewal when the server says `invalid_token` or `invalid_dpop_proof`. A bound token goes as
 * `Authorization: DPoP` with a proof for this very request (its method, its URL); a `use_dpop_nonce` challenge is
 * answered once, with the nonce it carried. A network error is the caller's: it never
 * touches the token (offline is not logged out). A Session-Token is taken only from an answer whose final URL is
 * the API's own origin: never from an attachTo origin, never after a redirect elsewhere (someone else's session
 * handed to this page, a login CSRF).
 */
import { HEADERS } from '../shared/protocol.js';
import { authorize, challenge } from './binding.js';
import { noop, type Core } from './core.js';

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
    let sent = null as string | null;
    const send = async () => {
      // A Request is cloned for every attempt, so its body can be sent again.
      const r = new Request(request ? request.clone() : url, { credentials: 'include', ...init });
      sent = r.headers.has(HEADERS.authorization) ? null : core.token;
      if (sent) authorize(r.headers, sent, core.bound ? await core.binding.proof(r.method, r.url, sent) : undefined);
      return fetch(r);
    };
    // Not with a stream body: it is gone once sent (the caller gets the 401, and the renewed token for its next try).
    const again = () => !(init?.body as ReadableStream | undefined)?.getReader;
    let res = await send();
    let error = sent && challenge(core.binding, res);
    if (error == 'use_dpop_nonce' && again()) error = challenge(core.binding, (res = await send()));
    // invalid_token or invalid_dpop_proof (a key this device lost, a proof refused).
    if (/^invalid_/.test(error!)) {
      await core.renew(sent).catch(noop);
      // Retry only with a new token.
      if (core.token != sent && again()) res = await send();
    }
    // res.url is the final URL after redirects ('' only for a synthetic Response: then the one asked for).
    if (new URL(res.url || url).origin == core.options.url.origin) core.adopt(res.headers.get(HEADERS.sessionToken), undefined, epoch);
    return res;
  };
