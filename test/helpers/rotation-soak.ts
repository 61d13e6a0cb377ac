/**
 * The rotation soak (issue 15): three tabs of one origin keep one session busy while its tokens, a few seconds
 * long, rotate again and again; pages reload and a tab is closed while a renewal is in flight. The client must never
 * trigger reuse detection by itself: whatever the interleaving, the server counts 0 reuse events and every tab stays
 * in the one session it started with. Used by test/browser/rotation-soak.*.test.ts and by the bench (a shorter run).
 *
 * Every count is read where it is decided: rotations from the session's record in the store (its generation), reuse
 * from hs.on('reuse'), the sessions from what the server resolved for each request and each bearer it received. The
 * driver acts every few rotations, never after a guessed delay, so the run holds at any speed; only its overall
 * deadline is a time, and it is generous.
 */
import type { Context, Engine, Tab } from './engines/index.ts';
import { registerInit, until, waitForHarness, type Api, type Pages } from './browser.ts';
import { rotationRecord } from './rotation-record.ts';

export interface SoakOptions {
  engine: Engine;
  pages: Pages;
  /** An API started with a short tokenMaxAge and a rotationGrace to match. */
  api: Api;
  /** With Web Locks (the engine's own), or with `navigator.locks` deleted before any page script. */
  locks: boolean;
  /** Drive until the server counted this many rotations of the session. */
  rotations: number;
  /** Give up (and fail) after this many ms. */
  deadline: number;
  /** Reload one tab / close one mid-renewal every this many rotations (alternating). Default 6. */
  every?: number;
}

export interface SoakResult {
  /** Rotations of the one session, as its record in the store counts them. */
  rotations: number;
  /** hs.on('reuse') events during the run: must be 0. */
  reuseEvents: number;
  /** Token endpoint POSTs (renewals asked for by the tabs; the rest rotated on ordinary requests). */
  tokenPosts: number;
  /** Session ids the server resolved for the tabs' requests, and named in the bearers it received. */
  sessions: string[];
  /** `expired` events in all tabs (a tab that lost its session would say so): must be 0. */
  expired: number;
  /** App requests made by the tabs, and how many of them ended 200 / other (after the client's own retry). */
  requests: number;
  ok: number;
  /** Reloads and tabs closed while a renewal was held at the server. */
  reloads: number;
  closedMidRenewal: number;
  ms: number;
}

/**
 * What each tab runs: requests in a loop (so generations get used, and some rotate on ordinary requests, as an
 * app's traffic makes them) and one websocket (handshakes with each new token after a reload). A string: it runs in the
 * page as written (no helpers a compiler might wrap inner functions with).
 */
const PAGE_LOAD = `(() => {
  const soak = (window.soak = { requests: 0, ok: 0, sids: {}, stop: false, paused: false });
  (async () => {
    while (!soak.stop) {
      if (soak.paused) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      soak.requests++;
      try {
        const res = await session.fetch('/api/me');
        if (res.ok) {
          soak.ok++;
          soak.sids[(await res.json()).sid] = true;
        }
      } catch (e) {
        // a request cut off by a reload or a close: nothing to count
      }
      // Slower than the renewal timer (half of 2.4 s) on average, so most rotations are renewals at the endpoint
      // (where locks matter) and some happen on a request that got past half-life first.
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
    }
  })();
  // Renewals the app asks for at any moment (a resume, a visibility change), on top of each tab's timer: tabs that
  // renew one token at once, which without Web Locks reach the endpoint together.
  (async () => {
    while (!soak.stop) {
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 3000));
      if (!soak.stop) session.renew().catch(() => {});
    }
  })();
  openSocket('/ws', { minReconnectionDelay: 100, maxReconnectionDelay: 1000 });
})()`;

const HARVEST = `({ requests: soak.requests, ok: soak.ok, sids: Object.keys(soak.sids), expired: eventsNamed('expired').length })`;

interface Harvest {
  requests: number;
  ok: number;
  sids: string[];
  expired: number;
}

/** The session id inside a token (v1.<b64url sid>.…), as the server reads it. */
const sidOf = (bearer: string): string | null => {
  const m = /^(?:bearer|dpop)\s+v1\.([A-Za-z0-9_-]+)\./i.exec(bearer);
  return m ? Buffer.from(m[1]!, 'base64url').toString('utf8') : null;
};

/**
 * Before any page script: each tab counts its token POSTs in flight (window.__tokenPosts), so the driver closes the
 * very tab whose renewal the server is holding. The client calls the global fetch at each request.
 */
const COUNT_TOKEN_POSTS = `
  const original = window.fetch;
  window.__tokenPosts = 0;
  window.fetch = function (input, init) {
    const url = typeof input === 'object' && 'url' in input ? input.url : String(input);
    if (!init || init.method !== 'POST' || !/\\/session\\/token$/.test(url)) return original.call(this, input, init);
    window.__tokenPosts++;
    return original.call(this, input, init).finally(() => window.__tokenPosts--);
  };`;
/** No Web Locks (older webviews): deleted before the client looks for them. */
const WITHOUT_LOCKS = 'delete Navigator.prototype.locks;';

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { engine, pages, api, locks, rotations, deadline, every = 6 } = options;
  const started = Date.now();
  let reuseEvents = 0;
  const onReuse = () => reuseEvents++;
  api.hs.on('reuse', onReuse);
  const postsBefore = api.tokenRequests.POST;
  const authBefore = api.authorizations.length;
  // registerInit sends a function's source; this one's source is the page code.
  const initId = registerInit(new Function(COUNT_TOKEN_POSTS + (locks ? '' : WITHOUT_LOCKS)) as () => void);
  const url = `${pages.url}/umd.html?init=${initId}`;
  const harvested: Harvest[] = [];
  let reloads = 0;
  let closedMidRenewal = 0;
  const context: Context = await engine.newContext();
  const pageErrors: string[] = [];
  context.onError((e) => pageErrors.push(`[${e.tab}] ${e.kind}: ${e.text}`));

  const begin = async (tab: Tab) => {
    await waitForHarness(tab);
    if (!locks && (await tab.evaluate(() => typeof navigator.locks)) !== 'undefined') throw new Error('navigator.locks is still there');
    await tab.evaluate((api) => start({ url: api }).ready(), api.url);
    await tab.evaluate(PAGE_LOAD);
  };
  const openTab = async (label: string) => {
    const tab = await context.newTab(label);
    await tab.goto(url);
    await begin(tab);
    return tab;
  };
  const harvest = async (tab: Tab) => harvested.push(await tab.evaluate<Harvest>(HARVEST));

  try {
    const tabs = [await openTab('tab 1')];
    const sid = await until('tab 1 resolved its session', async () => (await tabs[0]!.evaluate<string[]>('Object.keys(soak.sids)'))[0]);
    tabs.push(await openTab('tab 2'), await openTab('tab 3'));
    let gen = (await rotationRecord(api, sid)).gen;
    let next = gen + every;
    let step = 0;
    while (gen < rotations) {
      if (Date.now() - started > deadline) throw new Error(`soak: ${gen} of ${rotations} rotations in ${deadline} ms`);
      if (reuseEvents > 0) break;
      if (gen >= next) {
        next = gen + every;
        const i = step % tabs.length;
        if (step++ % 2 === 0) {
          await harvest(tabs[i]!);
          await tabs[i]!.reload();
          await begin(tabs[i]!);
          reloads++;
        } else {
          // "Mid-renewal" made explicit: token POSTs are held at the server while this tab renews and closes; the
          // held answers then go to a tab that is gone (or, without locks, another tab's too, after the close).
          // The tabs' requests pause meanwhile: a request past half-life rotates too, and a renewal asked for while
          // a new token arrives finds nothing left to renew (no request), so requests could keep it from ever
          // reaching the endpoint.
          for (const tab of tabs) await tab.evaluate('soak.paused = true');
          const gate = api.holdTokenPosts();
          let victim = i;
          try {
            // Tab i asks until a renewal is held (one asked for while a new token arrives finds nothing left to
            // renew and sends nothing); the tab closed is the one whose POST is held (with Web Locks, the holder).
            await until(
              'a renewal held at the server',
              async () => {
                if (reuseEvents > 0) return true;
                if (gate.held() > 0) {
                  for (const [k, tab] of tabs.entries()) if ((await tab.evaluate<number>('window.__tokenPosts')) > 0) return (victim = k) + 1;
                }
                await tabs[i]!.evaluate('void session.renew().catch(() => {})');
                await new Promise((r) => setTimeout(r, 250));
                return false;
              },
              60_000,
            );
            await harvest(tabs[victim]!);
            await tabs[victim]!.close();
          } finally {
            gate.release();
          }
          closedMidRenewal++;
          tabs[victim] = await openTab(`tab ${victim + 1} (reopened ${closedMidRenewal})`);
          for (const tab of tabs) await tab.evaluate('soak.paused = false');
        }
      }
      await new Promise((r) => setTimeout(r, 100));
      const record = await rotationRecord(api, sid, { allowMissing: true });
      // Gone: ended for reuse (reported below) or by something else, which the sessions check reports.
      if (record.missing) break;
      gen = record.gen;
    }
    for (const tab of tabs) {
      await harvest(tab);
      await tab.evaluate('soak.stop = true');
    }
    const sessions = new Set(harvested.flatMap((h) => h.sids));
    for (const bearer of api.authorizations.slice(authBefore)) {
      const s = sidOf(bearer);
      if (s) sessions.add(s);
    }
    if (pageErrors.length > 0) throw new Error(`page errors:\n${pageErrors.join('\n')}`);
    return {
      rotations: gen,
      reuseEvents,
      tokenPosts: api.tokenRequests.POST - postsBefore,
      sessions: [...sessions],
      expired: harvested.reduce((n, h) => n + h.expired, 0),
      requests: harvested.reduce((n, h) => n + h.requests, 0),
      ok: harvested.reduce((n, h) => n + h.ok, 0),
      reloads,
      closedMidRenewal,
      ms: Date.now() - started,
    };
  } finally {
    api.hs.off('reuse', onReuse);
    await context.close();
  }
}
