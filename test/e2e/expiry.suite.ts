/**
 * Token and session expiry with a short maxAge, on the hybrid app (token only: no cookie to fall back on).
 * The contract: an open page renews its token before it expires (less than half its lifetime left), so an open app
 * never holds a dead token; a page that comes back after its session expired renews first (its dead token goes
 * only to the token endpoint), says `expired`, and carries on with a new session. Never a dead token sent again
 * and again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BEARER_PREFIX } from '../../src/shared/protocol.ts';
import { describeEngine } from '../helpers/browser.ts';
import type { Engine as Browser } from '../helpers/engines/index.ts';
import type { EngineName } from '../helpers/engines/index.ts';
import {
  incHttp,
  inContext,
  incWs,
  ready,
  shown,
  signIn,
  tokenOf,
  until,
  useDemo,
  type Demo,
} from './harness.ts';

const MAX_AGE = 6_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every token the API server was shown, over HTTP (Authorization) and on websocket handshakes (subprotocol). */
function recordPresentedTokens(demo: Demo): Array<{ token: string; where: string }> {
  const seen: Array<{ token: string; where: string }> = [];
  const record = (req: IncomingMessage) => {
    const where = `${req.headers.upgrade ? 'UPGRADE' : req.method} ${req.url}`;
    const auth = req.headers.authorization;
    // Bearer, or DPoP for a token bound to the device's key (DESIGN "Device binding").
    const scheme = auth && /^(bearer|dpop) /i.exec(auth);
    if (scheme) seen.push({ token: auth.slice(scheme[0].length).trim(), where });
    for (const p of String(req.headers['sec-websocket-protocol'] ?? '').split(',')) {
      const offered = p.trim();
      if (offered.startsWith(BEARER_PREFIX)) seen.push({ token: offered.slice(BEARER_PREFIX.length), where });
    }
  };
  demo.server.prependListener('request', record);
  demo.server.prependListener('upgrade', record);
  return seen;
}

/** The URL of every request the API answered 401, as the server saw it (in every engine alike). */
function recordRefusals(demo: Demo): string[] {
  const refused: string[] = [];
  demo.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) =>
    res.on('finish', () => res.statusCode === 401 && refused.push(`${req.method} ${req.url}`)),
  );
  return refused;
}

/** The suite in one engine; each engine runs it from its own file (expiry.<engine>.test.ts). */
export function expirySuite(engine: EngineName): void {
  describeEngine(engine, `demo e2e: expiry with maxAge ${MAX_AGE} ms`, { timeout: 400_000 }, () => {
    let demo: Demo;
    let browser: Browser;
    useDemo(engine, 'hs-e2e-expiry-', { maxAge: MAX_AGE }, (d, b) => {
      demo = d;
      browser = b;
    });

    test('an open, idle page renews its token before it expires and keeps its session well past maxAge', async () => {
      await inContext(browser, async ({ open }) => {
        const page = await open('idle');
        const refused = recordRefusals(demo);
        await page.goto(demo.hybridUrl);
        await ready(page);
        const s = await signIn(page, 'Idle');
        await incHttp(page, 1);

        const tokens = new Set([await tokenOf(page)]);
        const start = Date.now();
        // Idle for three lifetimes; the page must have renewed by itself along the way.
        while (Date.now() - start < 3 * MAX_AGE) {
          tokens.add(await tokenOf(page));
          await sleep(200);
        }
        assert.ok(tokens.size >= 3, `the page renewed its token by itself (saw ${tokens.size} distinct tokens)`);
        const now = await shown(page);
        assert.equal(now.user, 'Signed in as Idle');
        assert.equal(now.sid, s.sid);
        assert.equal(now.ws, 'connected');
        assert.doesNotMatch(now.notice, /expired/);
        await incHttp(page, 2);
        await incWs(page, 3);
        assert.deepEqual(refused, [], 'no request was refused: the page never held a dead token');
      });
    });

    test('a page back after its session expired: the dead token goes only to the token endpoint, then a new session', async () => {
      await inContext(browser, async ({ open }) => {
        const first = await open('before', demo.hybridUrl);
        await ready(first);
        const s = await signIn(first, 'Sleeper');
        await incHttp(first, 1);
        const dead = await tokenOf(first);
        assert.ok(dead);
        // The app is closed (its storage stays) for longer than the session lives.
        await first.close();
        await sleep(MAX_AGE + 1_000);

        const presented = recordPresentedTokens(demo);
        const page = await open('after', demo.hybridUrl);
        const now = await until(
          page,
          'the page says its session expired and runs on a new one',
          (x) => /expired/.test(x.notice) && x.ws === 'connected' && x.sid !== s.sid && x.sid !== '–',
        );
        assert.equal(now.user, 'Not signed in');
        assert.equal(now.count, '0');
        await incHttp(page, 1);
        await incWs(page, 2);
        // The client knows when its stored token expires: it renews before using it, so the dead token reaches only
        // the token endpoint (as the stale bearer, ignored there: it is how clients recover), once. No app request
        // or websocket handshake ever carries it, so the server refuses nothing (no 401 in the console either).
        const deadUses = presented.filter((t) => t.token === dead).map((t) => t.where);
        assert.deepEqual(deadUses, ['POST /session/token'], `where the dead token went: ${deadUses.join(', ')}`);
        assert.notEqual(await tokenOf(page), dead);
      });
    });

    // Only Playwright can take a context offline here (neither classic WebDriver nor Firefox's BiDi has the switch),
    // so this case exists in the Chromium run only (a skip would fail CI=true for want of a driver feature).
    if (engine === 'chromium') test('a page offline across its expiry: back online it says expired and runs on a new session, no dead token sent', async () => {
      await inContext(browser, async ({ context, watch, open }) => {
        const page = await open('offline', demo.hybridUrl);
        await ready(page);
        const s = await signIn(page, 'Traveller');
        await incHttp(page, 1);
        const presented = recordPresentedTokens(demo);
        // Every token the page holds until it is back online names the session that expires meanwhile: all dead.
        const held = new Set<string>([(await tokenOf(page))!]);
        const hold = setInterval(() => void tokenOf(page).then((t) => t && held.add(t), () => {}), 200);
        try {
          // While offline the page cannot renew, and Chromium logs each failed attempt: only those are let through.
          watch.allowNetworkErrors(/net::ERR_INTERNET_DISCONNECTED/);
          await context.setOffline!(true);
          await sleep(MAX_AGE + 1_500);
        } finally {
          clearInterval(hold);
        }
        held.add((await tokenOf(page))!);
        await context.setOffline!(false);
        const now = await until(
          page,
          'back online, the page says its session expired and runs on a new one',
          (x) => /expired/.test(x.notice) && x.ws === 'connected' && x.sid !== s.sid && x.sid !== '–',
        );
        assert.equal(now.user, 'Not signed in');
        await incHttp(page, 1);
        await incWs(page, 2);
        // What the page held while offline reached the server only as the token endpoint's stale bearer, if at all.
        assert.ok(!held.has((await tokenOf(page))!));
        const dead = presented.filter((t) => held.has(t.token) && !t.where.startsWith('POST /session/token'));
        assert.deepEqual(dead.map((t) => t.where), [], 'no app request or handshake carried a dead token');
      });
    });
  });
}
