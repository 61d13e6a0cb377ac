/**
 * What runs between calls: the renewal timer, the wake-up listeners (Cordova's resume, the page shown again, the
 * network back) and the channel to the other tabs, with the check of what the tabs post.
 *
 * All three are set up right after ready() resolved for its callers, or at the first post, so ready() waits for none
 * of them (the channel's constructor alone costs about as much as reading localStorage). Timers and events are
 * tasks, so none fires late by then; what another tab posts before the channel opens is not lost for good: a
 * renewal here re-reads storage under the lock first.
 */
import { HybridSessionError } from '../shared/errors.js';
import { isWellFormedToken } from '../shared/protocol.js';
import { later } from './later.js';
import type { Entry } from './storage/fallback.js';
import { createTabSync } from './tab-sync.js';

/** What a tab posts: its new token with the API that issued it and whether it is bound, or null for a logout. */
export type TabMessage = [token: string, expiresAt: number, renewAt: number, api: string, bound?: boolean] | null;

export interface BackgroundHooks {
  /** The renewal timer fired, or the app woke up (then `wake` runs too). */
  due(): void;
  /** The app woke up: end the backoff wait of every socket that is down. */
  wake(): void;
  /** Another tab's new token, or its logout (null). */
  tab(entry: Entry | null): void;
  report(error: HybridSessionError): void;
}

export function createBackground(name: string, api: string, hooks: BackgroundHooks) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let renewAt = 0;
  let post: ((m: TabMessage) => void) | undefined;
  const doc = globalThis.document;

  const arm = () => {
    clearTimeout(timer);
    if (renewAt) timer = later(hooks.due, renewAt - Date.now());
  };

  const onWake = () => {
    if (doc?.visibilityState == 'hidden') return;
    hooks.due();
    hooks.wake();
  };

  const receive = (m: unknown) => {
    if (m === null) return hooks.tab(null);
    if (Array.isArray(m) && m.length > 3 && isWellFormedToken(m[0]) && m[1] >= 0 && m[2] >= 0) {
      // Another API's session on the same key: not for this one.
      if (m[3] == api) hooks.tab([m[0], m[1], m[2], !!m[4]]);
    } else hooks.report(new HybridSessionError('HS_ERR_INVALID_TOKEN', 'tab message: not a token'));
  };

  const start = () => {
    if (post) return post;
    post = createTabSync(name, receive);
    arm();
    globalThis.addEventListener?.('online', onWake);
    doc?.addEventListener('visibilitychange', onWake);
    doc?.addEventListener('resume', onWake);
    return post;
  };

  return {
    start,
    /** The next renewal time (0: none); armed once started. */
    schedule(at: number) {
      renewAt = at;
      if (post) arm();
    },
    post: (e: Entry | null) => start()(e && [e[0], e[1], e[2], api, e[3]]),
  };
}

export type Background = ReturnType<typeof createBackground>;
