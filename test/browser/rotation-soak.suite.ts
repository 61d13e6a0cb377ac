/**
 * The rotation soak in Chromium (issue 15: Chromium is enough for it), one file per locking mode so each gets the
 * runner's whole per-file time: ≥ 200 rotations of one session across three tabs, with reloads and a tab closed
 * mid-renewal, and 0 false reuse detections. test/helpers/rotation-soak.ts says how it counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine as Browser } from '../helpers/engines/index.ts';
import { describeEngine, useBrowserSuite, type Api, type Pages } from '../helpers/browser.ts';
import { runSoak } from '../helpers/rotation-soak.ts';

/** A token lives 2.4 s (rotates at 1.2 s): 200 rotations in about four minutes when nothing is slow. */
export const TOKEN_LIFE = 2400;
/** As the defaults relate (60 s against 1 h) it would be 40 ms: shorter than a loaded machine's pauses. */
export const GRACE = 1200;
const ROTATIONS = 200;
const DEADLINE = 540_000;

export function rotationSoak(locks: boolean): void {
  describeEngine('chromium', `rotation soak, ${locks ? 'with Web Locks' : 'navigator.locks removed'}`, { timeout: DEADLINE + 50_000 }, () => {
    let browser: Browser;
    let api: Api;
    let pages: Pages;
    useBrowserSuite('chromium', { api: { tokenMaxAge: TOKEN_LIFE, rotationGrace: GRACE } }, (suite) => {
      ({ engine: browser, pages } = suite);
      ({ api } = suite.apis);
    });

    test(`${ROTATIONS} rotations across three tabs, reloads, a tab closed mid-renewal: 0 reuse detections, one session`, { timeout: DEADLINE + 40_000 }, async () => {
      const r = await runSoak({ engine: browser, pages, api, locks, rotations: ROTATIONS, deadline: DEADLINE });
      console.log(`rotation soak (${locks ? 'Web Locks' : 'no Web Locks'}): ${JSON.stringify(r)}`);
      assert.equal(r.reuseEvents, 0, 'no false reuse detection');
      assert.equal(r.sessions.length, 1, `one session throughout: ${r.sessions.length}`);
      assert.equal(r.expired, 0, 'no tab was told its session expired');
      assert.ok(r.rotations >= ROTATIONS, `${r.rotations} rotations`);
      assert.ok(r.reloads > 0 && r.closedMidRenewal > 0, 'reloads and tabs closed mid-renewal happened');
    });
  });
}
