/**
 * The token endpoint's two requests: POST (a token) and DELETE (end the session). Each has a deadline covering the
 * connect and the whole answer, so the single flight every caller waits for always settles (a stalled proxy, a
 * half-open connection after a phone changed network). A failure names the request and says which of three things
 * happened: no answer (HS_ERR_NETWORK), the server refused the token (HS_ERR_EXPIRED), or an answer that is not a
 * token (HS_ERR_ENDPOINT, with its status).
 *
 * Device binding: every request carries a proof once there is a key (a POST makes the key on first need: it runs under
 * the renewal's lock, so two tabs never make two), `Authorization: DPoP` beside it. A `use_dpop_nonce` challenge (a
 * device clock that is off, a nonce gone stale) is answered once, with the nonce it sent; an `invalid_dpop_proof`
 * (the session is bound to a key this device no longer has) fails as HS_ERR_EXPIRED, so the renewal starts over
 * without the token.
 */
import { HybridSessionError } from '../shared/errors.js';
import { HEADERS, isWellFormedToken, type TokenResponse } from '../shared/protocol.js';
import { authorize, challenge, type Binding } from './binding.js';
import { later } from './later.js';
import type { NormalizedOptions } from './options.js';

export interface Issued extends TokenResponse {
  /** ms the server's clock is ahead of this device's, from the answer's `Date` (0 when it cannot be read). */
  skew: number;
}

export async function tokenRequest(o: NormalizedOptions, binding: Binding, method: 'POST', bearer: string | null): Promise<Issued>;
export async function tokenRequest(o: NormalizedOptions, binding: Binding, method: 'DELETE', bearer: string | null): Promise<unknown>;
export async function tokenRequest(o: NormalizedOptions, binding: Binding, method: 'POST' | 'DELETE', bearer: string | null): Promise<Issued | undefined> {
  const what = `${method} ${o.tokenPath}`;
  const fail = (code: 'HS_ERR_NETWORK' | 'HS_ERR_EXPIRED' | 'HS_ERR_ENDPOINT', why: string, status?: number, cause?: unknown) =>
    new HybridSessionError(code, `${what}: ${why}`, { status, cause });
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Aborting alone would do in browsers; the race also settles on a fetch that ignores its signal.
  const deadline = new Promise<never>((_, reject) => {
    timer = later(() => {
      abort.abort();
      reject(fail('HS_ERR_NETWORK', `no answer within ${o.timeout} ms`));
    }, o.timeout);
  });
  const exchange = async (retry?: boolean): Promise<Issued | undefined> => {
    let res: Response;
    const headers = new Headers();
    try {
      const proof = await binding.proof(method, o.tokenUrl, bearer, method == 'POST');
      if (bearer) authorize(headers, bearer, proof);
      else if (proof) headers.set(HEADERS.dpop, proof);
      res = await fetch(o.tokenUrl, { method, credentials: 'include', headers, signal: abort.signal });
    } catch (cause) {
      // Offline is not logged out: the caller keeps its token.
      throw fail('HS_ERR_NETWORK', 'no answer', undefined, cause);
    }
    const { status } = res;
    const error = challenge(binding, res);
    if (!res.ok) {
      if (error == 'use_dpop_nonce' && !retry) return exchange(true);
      // The endpoint ignores an invalid bearer (it falls back to the cookie): a 401 invalid_token here means the
      // server ended the session on purpose (reuse detected) and will not renew it; invalid_dpop_proof, that the
      // session is bound to a key this device no longer has. Either way this token is done for here.
      throw fail(/^invalid_/.test(error!) ? 'HS_ERR_EXPIRED' : 'HS_ERR_ENDPOINT', String(status), status);
    }
    if (method == 'DELETE') return;
    const body: Partial<TokenResponse> | null = await res.json().catch(() => null);
    if (!isWellFormedToken(body?.token)) throw fail('HS_ERR_ENDPOINT', `${status} without a token`, status);
    // Date has whole seconds: +500 ms is the middle of the second it names.
    const date = Date.parse(res.headers.get('Date')!);
    return { ...(body as TokenResponse), skew: date ? date + 500 - Date.now() : 0 };
  };
  try {
    return await Promise.race([exchange(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
