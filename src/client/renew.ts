/**
 * Renewal: one token request at a time (single flight in the tab, a Web Lock across tabs), paced whatever the server
 * answers, timed from the token's lifetime as the server states it, and never for a session whose logout the
 * server has not confirmed.
 *
 * Under the lock the stored entry is read again first: another tab may have renewed meanwhile, and presenting the
 * token it replaced would look like reuse to the server (DESIGN "Token rotation"); or another tab may have logged
 * out offline, and its DELETE goes first.
 */
import type { HybridSessionError } from '../shared/errors.js';
import type { Binding } from './binding.js';
import { noop } from './core.js';
import { tokenRequest } from './endpoint.js';
import type { SessionEvents } from './events.js';
import { later } from './later.js';
import { withLock } from './lock.js';
import type { NormalizedOptions } from './options.js';
import { isPendingLogout, type Entry, type TokenStore } from './storage/fallback.js';

/**
 * Token requests at once, then one per SPACING: a page cannot storm the endpoint, whatever comes back (a server
 * refusing every token it mints makes every fetch renew). A timer renewing at half-life never waits for it unless
 * the server's tokens live under 2 × SPACING.
 */
const BURST = 3;
const SPACING = 3000;
/**
 * No renewal sooner than this after a token came in, doubled (up to 2^8) for every answer in a row that left less:
 * an endpoint answering expiries already past, or a device clock far off, cannot make the timer spin.
 */
const FLOOR = 1000;

/** The session state renewal reads and changes (create-session.ts owns it). */
export interface RenewalHost {
  readonly options: NormalizedOptions;
  readonly store: TokenStore;
  /** The device's key: proofs on every token request; deleted once a logout is confirmed. */
  readonly binding: Binding;
  readonly token: string | null;
  readonly epoch: number;
  /** A logout the server has not confirmed: the bearer to end it with ('' for none), else null. */
  ending: string | null;
  /** Replace the entry in memory (no write, no broadcast). */
  set(entry: Entry | null): void;
  /** Keep a token just obtained: memory, storage, the other tabs. */
  keep(entry: Entry): Promise<void>;
  emit<K extends keyof SessionEvents>(name: K, payload?: SessionEvents[K]): void;
}

export function createRenewal(host: RenewalHost) {
  const o = host.options;
  /** Lifetime of the last token the endpoint issued: times the ones that come without an expiry (header). */
  let life = 0;
  /** Answers in a row whose half-life was under the floor. */
  let short = 0;
  /** ms the server's clock is ahead of this device's, as the last answer showed. */
  let skew = 0;
  let credit = BURST;
  let creditAt = 0;
  let inflight: Promise<string | null> | null = null;

  /** The entry for a token: `expiresAt` on the server's clock (or none), turned into this device's. */
  const entry = (token: string, serverExpiresAt: number | undefined, bound: boolean): Entry => {
    const now = Date.now();
    if (serverExpiresAt) life = serverExpiresAt - skew - now;
    if (!life) return [token, 0, 0, bound];
    short = life / 2 < FLOOR ? Math.min(short + 1, 8) : 0;
    return [token, now + life, now + Math.max(life / 2, FLOOR * 2 ** short), bound];
  };

  /** Waits, when the burst is spent, until a token request may go out. */
  const pace = async () => {
    // performance.now: a device clock set back cannot stall renewals.
    const now = performance.now();
    credit = Math.min(BURST, credit + (now - creditAt) / SPACING);
    creditAt = now;
    credit--;
    if (credit < 0) await new Promise((r) => later(r as () => void, -credit * SPACING));
  };

  /** Under the lock: a pending logout (this tab's or another's) is sent before anything else. Returns the stored entry. */
  const settle = async (): Promise<Entry | null> => {
    const stored = await host.store.read();
    if (isPendingLogout(stored)) host.ending = stored[0];
    // A token stored since: someone signed in after the logout, which is then done.
    else if (stored) host.ending = null;
    const bearer = host.ending;
    if (bearer != null) {
      await tokenRequest(o, host.binding, 'DELETE', bearer || null);
      // The session is ended: its key goes too (the DELETE needed it, to end a bound session by its token).
      await host.binding.drop(true);
      if (host.ending == bearer) {
        host.ending = null;
        await host.store.write();
      }
    }
    return stored;
  };

  const flight = async (stale: string | null) => {
    await pace();
    await withLock(o.key, async () => {
      const at = host.epoch;
      if (host.token != stale) return;
      const stored = await settle();
      if (stored && !isPendingLogout(stored) && stored[0] != stale) return host.set(stored);
      /** The server ended the session (a rotated-out copy of its token was used elsewhere): start over. */
      let ended = false;
      let issued;
      try {
        issued = await tokenRequest(o, host.binding, 'POST', stale);
      } catch (e) {
        // The endpoint ignores invalid bearers, so its 401 invalid_token means reuse (HS_ERR_TOKEN_REUSED): the
        // session is gone everywhere; a request without the dead token makes a new one, reported as `expired`.
        // So does invalid_dpop_proof: the session is bound to a key this device lost (storage evicted), and no
        // cookie naming it could rebind it to the new one. Either way once, never a loop.
        if (!stale || (e as HybridSessionError).code != 'HS_ERR_EXPIRED') throw e;
        ended = true;
        issued = await tokenRequest(o, host.binding, 'POST', null);
      }
      skew = issued.skew;
      // Logged out meanwhile, or a newer token came in (a login's Session-Token): that one wins, and the session this
      // answer names is ended before the lock is let go (a sign-in after the logout cannot overtake its DELETE). If
      // that DELETE fails, a session the answer had to make anew is empty and lives out its provisional 15 minutes.
      if (at != host.epoch) return tokenRequest(o, host.binding, 'DELETE', issued.token).catch(noop);
      if (host.token != stale) return;
      host.store.hint(issued.storage);
      await host.keep(entry(issued.token, issued.expiresAt, issued.bound));
      // The server made a new session although this tab held a token: the old one is gone.
      if ((issued.created || ended) && stale) host.emit('expired');
    });
    return host.token;
  };

  return {
    entry,
    renew(stale = host.token): Promise<string | null> {
      inflight ??= flight(stale).finally(() => {
        inflight = null;
      });
      return inflight;
    },
    /** The renewal in flight, if any. */
    get inflight() {
      return inflight;
    },
    /** Retry a pending logout (the network back, the page shown again). */
    finishLogout: () => withLock(o.key, settle),
  };
}
