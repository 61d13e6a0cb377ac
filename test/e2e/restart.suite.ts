/**
 * The API server stops and starts again on the same port while both demo pages stay open. With Redis the session
 * outlives the process: the pages reconnect by themselves and carry on. With the memory store the session is gone:
 * the pages say so (`expired`) and carry on with a new one. Neither prints an error of its own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEngine } from '../helpers/browser.ts';
import { launchEngine, type Context as BrowserContext, type Engine as Browser, type Tab as Page } from '../helpers/engines/index.ts';
import type { EngineName } from '../helpers/engines/index.ts';
import { noRedis } from '../helpers/env.ts';
import { startRedis } from '../helpers/redis-server.ts';
import {
  ErrorWatch,
  incHttp,
  incWs,
  ready,
  removeDir,
  signIn,
  startDemo,
  tempDir,
  until,
  watchedContext,
  type Demo,
  type DemoOptions,
} from './harness.ts';

/**
 * While the API is down on purpose, Chromium logs each refused connection to it as a console error (the browser
 * reporting the network, not the page failing). Only those, to this API's port, are let through.
 */
function refusedByApi(apiUrl: string): RegExp {
  const port = new URL(apiUrl).port;
  return new RegExp(`(WebSocket connection to 'ws://127\\.0\\.0\\.1:${port}/[^']*' failed)|(net::ERR_CONNECTION_REFUSED)`);
}

interface Pages {
  context: BrowserContext;
  hybrid: Page;
  spa: Page;
}

async function openBoth(browser: Browser, demo: Demo, watch: ErrorWatch): Promise<Pages> {
  const context = await watchedContext(browser, watch);
  const hybrid = await context.newTab('hybrid');
  const spa = await context.newTab('spa');
  await hybrid.goto(demo.hybridUrl);
  await spa.goto(demo.spaUrl);
  await Promise.all([ready(hybrid), ready(spa)]);
  return { context, hybrid, spa };
}

/** Stop the API server and start it again on the same ports, with the same options; returns the new one. */
async function restart(demo: Demo, options: DemoOptions, pages: Page[]): Promise<Demo> {
  const port = Number(new URL(demo.apiUrl).port);
  const staticPort = Number(new URL(demo.hybridUrl).port);
  await demo.close();
  // Both pages see the server go: their websockets drop and they start reconnecting on their own.
  await Promise.all(pages.map((page) => until(page, 'the page notices the server is gone', (s) => s.ws !== 'connected')));
  return startDemo({ ...options, port, staticPort });
}

/** The suite in one engine; each engine runs it from its own file (restart.<engine>.test.ts). */
export function restartSuite(engine: EngineName): void {
  describeEngine(engine, 'demo e2e: the API server restarts under open pages', { timeout: 400_000 }, () => {
    let browser: Browser;

    before(async () => {
      browser = await launchEngine(engine);
    });

    after(async () => {
      await browser?.close();
    });

    test('Redis store: the pages reconnect by themselves and keep their session', { skip: noRedis }, async () => {
      const redis = await startRedis();
      const outDir = await tempDir('hs-e2e-restart-redis-');
      const options: DemoOptions = { store: 'redis', redisUrl: redis.url, outDir };
      let demo = await startDemo(options);
      const watch = new ErrorWatch();
      let pages: Pages | undefined;
      try {
        assert.match(demo.store, /^redis/);
        pages = await openBoth(browser, demo, watch);
        const { hybrid, spa } = pages;
        const h = await signIn(hybrid, 'Ada');
        const s = await signIn(spa, 'Alan');
        await incHttp(hybrid, 1);
        await incWs(spa, 1);

        watch.allowNetworkErrors(refusedByApi(demo.apiUrl));
        demo = await restart(demo, options, [hybrid, spa]);

        const h2 = await until(hybrid, 'the hybrid page reconnected on its session', (x) => x.ws === 'connected' && x.sid === h.sid);
        const s2 = await until(spa, 'the SPA reconnected on its session', (x) => x.ws === 'connected' && x.sid === s.sid);
        assert.equal(h2.user, 'Signed in as Ada');
        assert.equal(s2.user, 'Signed in as Alan');
        assert.doesNotMatch(h2.notice, /expired/);
        assert.doesNotMatch(s2.notice, /expired/);
        await incWs(hybrid, 2);
        await incHttp(hybrid, 3);
        await incHttp(spa, 2);
        await incWs(spa, 3);
        watch.assertClean();
      } finally {
        await pages?.context.close();
        await demo.close();
        await redis.stop();
        await removeDir(outDir);
      }
    });

    test('memory store: the pages notice the lost session (expired) and start a new one, without an error', async () => {
      const outDir = await tempDir('hs-e2e-restart-memory-');
      const options: DemoOptions = { store: 'memory', outDir };
      let demo = await startDemo(options);
      const watch = new ErrorWatch();
      let pages: Pages | undefined;
      try {
        assert.equal(demo.store, 'memory');
        pages = await openBoth(browser, demo, watch);
        const { hybrid, spa } = pages;
        const h = await signIn(hybrid, 'Ada');
        const s = await signIn(spa, 'Alan');
        await incHttp(hybrid, 1);
        await incWs(spa, 1);

        watch.allowNetworkErrors(refusedByApi(demo.apiUrl));
        demo = await restart(demo, options, [hybrid, spa]);

        for (const [page, before] of [[hybrid, h], [spa, s]] as const) {
          const now = await until(
            page,
            'the page says the session expired and runs on a new one',
            (x) => /expired/.test(x.notice) && x.ws === 'connected' && x.sid !== before.sid && x.sid !== '–',
          );
          assert.equal(now.user, 'Not signed in');
          assert.equal(now.count, '0');
        }
        await incHttp(hybrid, 1);
        await incWs(spa, 1);
        await signIn(hybrid, 'Ada');
        watch.assertClean();
      } finally {
        await pages?.context.close();
        await demo.close();
        await removeDir(outDir);
      }
    });
  });
}
