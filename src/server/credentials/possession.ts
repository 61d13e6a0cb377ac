/**
 * Device binding's rules (DESIGN "Device binding"), as pure decisions over what a request presented (its
 * Authorization scheme, the proof's verdict from proof.ts) and what the session says (the thumbprint it is bound to,
 * read from `__hs` by the caller). No store import: the caller reads the session, these decide.
 */
import { refuse, type ProofResult, type RefusedProof } from './proof.js';

export type BindingMode = 'off' | 'optional' | 'required';

const missing = (): RefusedProof => refuse('missing', 'a DPoP proof by the key this session is bound to is required');

/**
 * A token used on an ordinary request or a handshake: undefined to go on, else the refusal (401 / 4401).
 * `dpop`: presented as bound (Authorization: DPoP, or the websocket's dpop subprotocol); `proof`: undefined when none.
 */
export function judgeTokenUse(mode: BindingMode, jkt: string | undefined, dpop: boolean, proof: ProofResult | undefined): RefusedProof | undefined {
  if (mode === 'off') return undefined;
  if (jkt === undefined) {
    // The DPoP scheme promises a proof: one that fails is refused even for an unbound session.
    if (dpop) return proof === undefined ? missing() : proof.ok ? undefined : proof;
    if (mode === 'required') return refuse('unbound', 'this server accepts bound tokens only: renew with a DPoP proof');
    return undefined;
  }
  // A bound session's token as a plain Bearer is what a thief holding a copy would send.
  if (!dpop) return refuse('scheme', 'this session is bound: send Authorization: DPoP <token> with a proof');
  if (proof === undefined) return missing();
  if (!proof.ok) return proof;
  if (proof.thumbprint !== jkt) return refuse('key', 'the DPoP proof is signed by another key than the one this session is bound to');
  return undefined;
}

export interface TokenRequestVerdict {
  ok: true;
  /** The answer's `bound`. */
  bound: boolean;
  /** A thumbprint to store in the session (first binding, or a rebinding after a lost key); undefined: unchanged. */
  bind: string | undefined;
}

/**
 * POST tokenPath for a session (`jkt` its binding, undefined when unbound or new). `byCookie`: a valid session cookie
 * names this session, which alone may move it to a new key (a lost key: storage evicted), as an OAuth server's
 * session cookie re-issues DPoP-bound tokens; a token without the bound key's proof gets nothing.
 */
export function judgeTokenRequest(mode: BindingMode, jkt: string | undefined, byCookie: boolean, proof: ProofResult | undefined): TokenRequestVerdict | RefusedProof {
  if (mode === 'off') return { ok: true, bound: false, bind: undefined };
  // A broken proof is refused whatever the session: a nonce challenge is answered, a bug shows.
  if (proof !== undefined && !proof.ok) return proof;
  if (proof === undefined) {
    if (jkt !== undefined) return missing();
    if (mode === 'required') return refuse('unbound', 'this server requires a DPoP proof on token requests');
    return { ok: true, bound: false, bind: undefined };
  }
  if (jkt === proof.thumbprint) return { ok: true, bound: true, bind: undefined };
  if (jkt === undefined || byCookie) return { ok: true, bound: true, bind: proof.thumbprint };
  return refuse('key', 'the DPoP proof is signed by another key than the one this session is bound to');
}
