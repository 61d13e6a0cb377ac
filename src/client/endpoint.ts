/**
 * The token endpoint's two requests: POST (a token) and DELETE (end the session). Each has a deadline covering the
 * connect and the whole answer, so the single flight every caller waits for always settles (a stalled proxy, a
 * half-open connection after a phone changed network). A failure names the request and says which of three things
 * happened: no answer (HS_ERR_NETWORK), the server refused the token (HS_ERR_EXPIRED), or an answer that is not a
 * token (HS_ERR_ENDPOINT, with its status).
 */
import { HybridSessionError } from '../shared/errors.js';
import { HEADERS, isWellFormedToken, type TokenResponse } from '../shared/protocol.js';
import { BEARER } from './core.js';
import { later } from './later.js';
import type { NormalizedOptions } from './options.js';

export interface Issued extends TokenResponse {
  /** ms the server's clock is ahead of this device's, from the answer's `Date` (0 when it cannot be read). */
  skew: number;
}

export async function tokenRequest(o: NormalizedOptions, method: 'POST', bearer: string | null): Promise<Issued>;
export async function tokenRequest(o: NormalizedOptions, method: 'DELETE', bearer: string | null): Promise<unknown>;
export async function tokenRequest(o: NormalizedOptions, method: 'POST' | 'DELETE', bearer: string | null): Promise<Issued | undefined> {
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
  const exchange = async (): Promise<Issued | undefined> => {
    let res: Response;
    try {
      res = await fetch(o.tokenUrl, {
        method,
        credentials: 'include',
        headers: bearer ? { [HEADERS.authorization]: BEARER + bearer } : {},
        signal: abort.signal,
      });
    } catch (cause) {
      // Offline is not logged out: the caller keeps its token.
      throw fail('HS_ERR_NETWORK', 'no answer', undefined, cause);
    }
    const { status } = res;
    if (!res.ok) {
      // The endpoint ignores an invalid bearer (it falls back to the cookie): a 401 invalid_token here means the
      // server ended the session on purpose (reuse detected) and will not renew it.
      const refused = status == 401 && /invalid_token/.test(res.headers.get(HEADERS.wwwAuthenticate)!);
      throw fail(refused ? 'HS_ERR_EXPIRED' : 'HS_ERR_ENDPOINT', String(status), status);
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
