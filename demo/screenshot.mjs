#!/usr/bin/env node
/**
 * Makes docs/demo.png, the README's picture of the demo: the hybrid app and the SPA side by side, each signed in
 * with a count changed over HTTP and over the websocket. Run it by hand after changing the demo's look:
 *
 *   npm run build && node demo/screenshot.mjs [out.png]
 *
 * Needs Chromium (/usr/bin/chromium, or CHROMIUM=/path/to/chrome).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDemo } from './server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'docs/demo.png'));
const executablePath = process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) throw new Error('Chromium not found: apt-get install -y chromium, or set CHROMIUM=/path/to/chrome');

const WIDTH = 1000;

async function settle(page, what, ok) {
  await page.waitForFunction(ok, undefined, { timeout: 20_000 }).catch(() => {
    throw new Error(`screenshot: timed out waiting for ${what}`);
  });
}

const text = (id) => `document.getElementById('${id}')?.textContent`;

async function drive(page, url, name) {
  await page.goto(url);
  await settle(page, 'the websocket', `${text('ws-state')} === 'connected'`);
  await page.fill('#name', name);
  await page.click('#sign-in');
  await settle(page, 'sign-in', `${text('user')} === 'Signed in as ${name}' && ${text('ws-state')} === 'connected'`);
  await page.click('#inc-http');
  await settle(page, 'count 1', `${text('count')} === '1'`);
  await page.click('#inc-ws');
  await settle(page, 'count 2', `${text('count')} === '2'`);
  await page.click('#inc-ws');
  await settle(page, 'count 3', `${text('count')} === '3'`);
  return page.screenshot({ fullPage: true, type: 'png' });
}

const outDir = await mkdtemp(join(tmpdir(), 'hs-demo-shot-'));
const demo = await startDemo({ port: 0, staticPort: 0, store: 'memory', quiet: true, outDir });
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const context = await browser.newContext({ deviceScaleFactor: 1 });
  const hybridPage = await context.newPage();
  await hybridPage.setViewportSize({ width: 440, height: 900 });
  const spaPage = await context.newPage();
  await spaPage.setViewportSize({ width: 540, height: 900 });
  const [hybrid, spa] = [await drive(hybridPage, demo.hybridUrl, 'Ada'), await drive(spaPage, demo.spaUrl, 'Alan')];

  // Compose in the browser itself: no image library needed.
  const sheet = await context.newPage();
  await sheet.setViewportSize({ width: WIDTH, height: 600 });
  const img = (png) => `data:image/png;base64,${png.toString('base64')}`;
  await sheet.setContent(`<!doctype html><html><body style="margin:0;background:#c9d2e3;font:13px system-ui,sans-serif;color:#1d2330">
    <div style="display:flex;gap:12px;padding:10px;align-items:flex-start;justify-content:center">
      <figure style="margin:0;width:440px"><figcaption style="padding:0 0 6px 4px"><b>hybrid app</b> · another site, token only</figcaption>
        <img style="display:block;width:440px" src="${img(hybrid)}"></figure>
      <figure style="margin:0;width:528px"><figcaption style="padding:0 0 6px 4px"><b>SPA</b> · same origin, cookie + token</figcaption>
        <img style="display:block;width:528px;border-radius:10px" src="${img(spa)}"></figure>
    </div></body></html>`);
  await sheet.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
  await sheet.screenshot({ path: out, fullPage: true, type: 'png' });
  console.log(`wrote ${out} (${Math.round((await stat(out)).size / 1024)} KB)`);
} finally {
  await browser.close();
  await demo.close();
  await rm(outDir, { recursive: true, force: true });
}
