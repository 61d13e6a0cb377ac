/**
 * Token rotation and reuse detection (DESIGN "Token rotation and reuse detection"), as one pure decision: given what
 * the session remembers about its tokens, which generation was presented, by which caller and when, what to do.
 * No store, no clock of its own (`now` is an argument), so every rule is a unit test and every caller (HTTP request,
 * websocket handshake, token endpoint, server-side issue) applies the same table.
 *
 * Why a generation and not a list of revoked tokens: the session keeps one small record whatever the number of
 * renewals, and "older than current" is the whole test. A token of generation g is current while the session's
 * record says g; after a rotation the record says g + 1 and remembers when it moved (`at`), which is what the
 * grace and the lost-answer rule need; `used` says whether the current generation has been seen on a request or
 * handshake, i.e. whether its holder certainly received it.
 */

/** What a session remembers about its tokens, kept under the library's own key (`__hs`, store/session-meta.ts). */
export interface RotationState {
  /** The current generation: tokens of it are fully valid. */
  readonly gen: number;
  /** ms since epoch when `gen` became current (0: never rotated). The previous generation works until at + grace. */
  readonly at: number;
  /** Expiry of the current generation's token, ms: re-signing (sid, gen, exp) gives the very same token again. */
  readonly exp: number;
  /** The current generation has been presented on an ordinary request or handshake (its holder has it). */
  readonly used: boolean;
}

/**
 * A session that never rotated (made before rotation existed, or its record was lost): generation 0, counted as
 * used, so the lost-answer rule never applies to it and its first renewal simply rotates.
 */
export const UNROTATED: RotationState = Object.freeze({ gen: 0, at: 0, exp: 0, used: true });

/** Who presents the token: the rules differ between using a session and renewing its token. */
export type RotationCaller = 'request' | 'handshake' | 'endpoint';

export const VERDICTS = {
  /** The current generation (or a newer one, see judge()): go on. */
  accept: 'accept',
  /** The previous generation within the grace, on a request or handshake: go on (the response carries the current one). */
  acceptPrevious: 'accept-previous',
  /** At the endpoint: the previous generation whose successor its holder never received: answer the current one again. */
  lostAnswer: 'lost-answer',
  /** At the endpoint: issue the next generation. */
  rotate: 'rotate',
  /** On a request or handshake: a rotated-out generation past the grace: 401 / 4401, the session lives on. */
  refuse: 'refuse',
  /** At the endpoint: a rotated-out generation came back: two parties hold the session; end it. */
  reuse: 'reuse',
} as const;
export type Verdict = (typeof VERDICTS)[keyof typeof VERDICTS];

/**
 * The decision table.
 *
 * `presented` is the generation of a token whose MAC was verified (its expiry is the caller's business: expired
 * tokens never reach a request or handshake here, and the endpoint renews the current generation even after its
 * own expiry). `undefined` means no token: a renewal by the session cookie, or a token the server issues by
 * itself (hs.issueToken, setUserId).
 *
 * A generation newer than the record can only come from this server (the MAC says so) and means the record went
 * back (a store restored from a backup, a stale write of the whole session): it is taken as current rather than
 * refused, so a lost record never logs out the one client that holds the newest token.
 */
export function judge(state: RotationState, presented: number | undefined, caller: RotationCaller, now: number, grace: number): Verdict {
  const inGrace = now - state.at < grace;
  if (caller !== 'endpoint') {
    if (presented === undefined || presented >= state.gen) return VERDICTS.accept;
    return presented === state.gen - 1 && inGrace ? VERDICTS.acceptPrevious : VERDICTS.refuse;
  }
  if (presented === undefined) {
    // Cookie renewals carry no generation to compare: concurrent ones (tabs of a cookie-only client) would each
    // rotate and leave every other tab holding a rotated-out token. A current generation nobody used yet, minted
    // within the grace, is handed out again instead.
    return !state.used && inGrace ? VERDICTS.lostAnswer : VERDICTS.rotate;
  }
  if (presented >= state.gen) return VERDICTS.rotate;
  if (presented === state.gen - 1 && (!state.used || inGrace)) return VERDICTS.lostAnswer;
  return VERDICTS.reuse;
}

/** The record after a rotation: `from` is the generation presented when newer than the record (see judge()). */
export function rotated(state: RotationState, presented: number | undefined, now: number, exp: number): RotationState {
  const base = presented !== undefined && presented > state.gen ? presented : state.gen;
  return { gen: base + 1, at: now, exp, used: false };
}

/** The record of a brand-new session whose first token (generation 0) expires at `exp`. */
export function fresh(now: number, exp: number): RotationState {
  return { gen: 0, at: now, exp, used: false };
}

/**
 * The record after a request or handshake accepted `presented`, or null when nothing changes (no store write):
 * the first use of the current generation is written once, so a later renewal with the previous one is reuse.
 */
export function afterUse(state: RotationState, presented: number, presentedExp: number): RotationState | null {
  if (presented > state.gen) return { gen: presented, at: state.at, exp: presentedExp, used: true };
  if (presented === state.gen && !state.used) return { ...state, used: true };
  return null;
}

