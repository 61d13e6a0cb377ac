/** The rotation decision table (DESIGN "Token rotation and reuse detection"), cell by cell, with an explicit clock. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UNROTATED,
  afterUse,
  fresh,
  judge,
  rotated,
  type RotationState,
} from '../../../src/server/credentials/rotation.ts';
import { rotationOf, withRotation, versionOf } from '../../../src/server/store/session-meta.ts';

const GRACE = 60_000;
const T = 1_800_000_000_000;
/** Generation 5 became current at T; its holder has not used it yet. */
const justRotated: RotationState = { gen: 5, at: T, exp: T + 3_600_000, used: false };
const usedState: RotationState = { ...justRotated, used: true };

describe('judge: ordinary requests and handshakes', () => {
  for (const caller of ['request', 'handshake'] as const) {
    test(`${caller}: current accepted; previous only within the grace; older refused (never reuse)`, () => {
      assert.equal(judge(usedState, 5, caller, T + 10 * GRACE, GRACE), 'accept');
      assert.equal(judge(usedState, 4, caller, T, GRACE), 'accept-previous');
      assert.equal(judge(usedState, 4, caller, T + GRACE - 1, GRACE), 'accept-previous', 'last ms of the grace');
      assert.equal(judge(usedState, 4, caller, T + GRACE, GRACE), 'refuse', 'grace is [at, at + grace)');
      assert.equal(judge(justRotated, 4, caller, T + GRACE, GRACE), 'refuse', 'unused current does not extend the grace here');
      assert.equal(judge(usedState, 3, caller, T, GRACE), 'refuse', 'two behind: refused even within the grace');
      assert.equal(judge(usedState, 0, caller, T, GRACE), 'refuse');
    });
  }

  test('a generation newer than the record (record went back) is taken as current, not refused', () => {
    assert.equal(judge(usedState, 9, 'request', T, GRACE), 'accept');
    assert.equal(judge(UNROTATED, 3, 'handshake', T, GRACE), 'accept');
  });
});

describe('judge: the token endpoint', () => {
  test('current → rotate, even long after (the caller does not check its expiry)', () => {
    assert.equal(judge(justRotated, 5, 'endpoint', T, GRACE), 'rotate');
    assert.equal(judge(usedState, 5, 'endpoint', T + 365 * 86_400_000, GRACE), 'rotate');
    assert.equal(judge(UNROTATED, 0, 'endpoint', T, GRACE), 'rotate', 'a session from before rotation rotates');
  });

  test('lost answer: previous while the current was never used (any time), or within the grace', () => {
    assert.equal(judge(justRotated, 4, 'endpoint', T, GRACE), 'lost-answer');
    assert.equal(judge(justRotated, 4, 'endpoint', T + 30 * 86_400_000, GRACE), 'lost-answer', 'app killed, back a month later');
    assert.equal(judge(usedState, 4, 'endpoint', T + GRACE - 1, GRACE), 'lost-answer', 'a tab not yet told');
  });

  test('reuse: previous after the current was used and the grace passed, or anything older', () => {
    assert.equal(judge(usedState, 4, 'endpoint', T + GRACE, GRACE), 'reuse');
    assert.equal(judge(justRotated, 3, 'endpoint', T, GRACE), 'reuse', 'two behind is reuse even at once');
    assert.equal(judge(usedState, 0, 'endpoint', T, GRACE), 'reuse');
  });

  test('cookie renewals (no generation): an unused current minted within the grace is handed out again, else rotate', () => {
    assert.equal(judge(justRotated, undefined, 'endpoint', T + GRACE - 1, GRACE), 'lost-answer');
    assert.equal(judge(justRotated, undefined, 'endpoint', T + GRACE, GRACE), 'rotate');
    assert.equal(judge(usedState, undefined, 'endpoint', T, GRACE), 'rotate');
    assert.equal(judge(UNROTATED, undefined, 'endpoint', T, GRACE), 'rotate');
  });

  test('newer than the record: rotate past it', () => {
    assert.equal(judge(usedState, 8, 'endpoint', T, GRACE), 'rotate');
    assert.deepEqual(rotated(usedState, 8, T + 1, T + 99), { gen: 9, at: T + 1, exp: T + 99, used: false });
  });
});

describe('state transitions', () => {
  test('rotated: next generation, unused, stamped now', () => {
    assert.deepEqual(rotated(usedState, 5, T + 7, T + 100), { gen: 6, at: T + 7, exp: T + 100, used: false });
    assert.deepEqual(rotated(usedState, undefined, T + 7, T + 100), { gen: 6, at: T + 7, exp: T + 100, used: false });
    assert.deepEqual(fresh(T, T + 5), { gen: 0, at: T, exp: T + 5, used: false });
  });

  test('afterUse writes once: first use of the current generation; nothing for the previous or a used current', () => {
    assert.deepEqual(afterUse(justRotated, 5, 0), { ...justRotated, used: true });
    assert.equal(afterUse(usedState, 5, 0), null);
    assert.equal(afterUse(justRotated, 4, 0), null, 'the previous generation in grace does not mark the current used');
    assert.deepEqual(afterUse(usedState, 7, T + 9), { gen: 7, at: T, exp: T + 9, used: true });
  });
});

describe('the record in session data', () => {
  test('round-trips under __hs, keeping the library\'s other fields', () => {
    const data: Record<string, unknown> = { cookie: {}, userId: 1, __hs: { v: 3 } };
    withRotation(data, justRotated);
    assert.deepEqual(rotationOf(JSON.parse(JSON.stringify(data))), justRotated);
    assert.equal(versionOf(data), 3);
    assert.equal(data.userId, 1);
  });

  test('anything planted or malformed reads as UNROTATED, never as a trusted generation', () => {
    const planted: unknown[] = [
      undefined, null, 5, 'x', [], {}, { gen: null }, { gen: -1 }, { gen: 1.5 }, { gen: 2 ** 53 }, { gen: '3' },
      { rotatedAt: 5, used: false },
    ];
    for (const meta of planted) assert.deepEqual(rotationOf({ __hs: meta }), UNROTATED, JSON.stringify(meta));
    // a generation with planted companions: the strict reading (no grace, counted as used), never a longer grace
    assert.deepEqual(rotationOf({ __hs: { gen: 3, rotatedAt: -5, tokenExp: 'x', used: 'yes' } }), { gen: 3, at: 0, exp: 0, used: true });
  });
});
