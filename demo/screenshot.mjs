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
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { crc32, deflateSync } from 'node:zlib';
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

/** The composite's pixels (RGB), read back through a canvas in the page itself. */
async function pixels(page, png) {
  const { width, height, base64 } = await page.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let bin = '';
    for (let i = 0; i < rgba.length; i += 4) bin += String.fromCharCode(rgba[i], rgba[i + 1], rgba[i + 2]);
    return { width: canvas.width, height: canvas.height, base64: btoa(bin) };
  }, `data:image/png;base64,${png.toString('base64')}`);
  return { width, height, rgb: Buffer.from(base64, 'base64') };
}

/**
 * Chromium writes its screenshots for speed; the committed image should be small. Re-encode: channels rounded to
 * even values (invisible), each row's PNG filter chosen by the usual minimum-sum heuristic, deflate at level 9.
 */
function smallPng({ width, height, rgb }) {
  const stride = width * 3;
  for (let i = 0; i < rgb.length; i++) rgb[i] &= 0xfe;
  const paeth = (a, b, c) => {
    const p = a + b - c;
    const pa = Math.abs(p - a);
    const pb = Math.abs(p - b);
    const pc = Math.abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  };
  const raw = Buffer.alloc((stride + 1) * height);
  const row = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const cur = rgb.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rgb.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    let best = null;
    for (let f = 0; f < 5; f++) {
      let sum = 0;
      for (let x = 0; x < stride; x++) {
        const a = x >= 3 ? cur[x - 3] : 0;
        const b = up[x];
        const c = x >= 3 ? up[x - 3] : 0;
        const predicted = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        row[x] = (cur[x] - predicted) & 0xff;
        sum += row[x] < 128 ? row[x] : 256 - row[x];
      }
      if (!best || sum < best.sum) best = { f, sum, bytes: Buffer.from(row) };
    }
    raw[y * (stride + 1)] = best.f;
    best.bytes.copy(raw, y * (stride + 1) + 1);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9, memLevel: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
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
  // A soft shadow is thousands of distinct pixels: flat edges keep the committed PNG small.
  await page.addStyleTag({ content: '.phone { box-shadow: none !important; }' });
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
  await hybridPage.setViewportSize({ width: 440, height: 400 });
  const spaPage = await context.newPage();
  await spaPage.setViewportSize({ width: 540, height: 400 });
  const [hybrid, spa] = [await drive(hybridPage, demo.hybridUrl, 'Ada'), await drive(spaPage, demo.spaUrl, 'Alan')];

  // Compose in the browser itself: no image library needed.
  const sheet = await context.newPage();
  await sheet.setViewportSize({ width: WIDTH, height: 600 });
  const img = (png) => `data:image/png;base64,${png.toString('base64')}`;
  await sheet.setContent(`<!doctype html><html><body style="margin:0;background:#d5dcea;font:13px system-ui,sans-serif;color:#1d2330">
    <div style="display:flex;gap:12px;padding:10px;align-items:flex-start;justify-content:center">
      <figure style="margin:0;width:440px"><figcaption style="padding:0 0 6px 4px"><b>hybrid app</b> · another site, token only</figcaption>
        <img style="display:block;width:440px" src="${img(hybrid)}"></figure>
      <figure style="margin:0;width:528px"><figcaption style="padding:0 0 6px 4px"><b>SPA</b> · same origin, cookie + token</figcaption>
        <img style="display:block;width:528px;border-radius:10px" src="${img(spa)}"></figure>
    </div></body></html>`);
  await sheet.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
  const shot = await sheet.screenshot({ fullPage: true, type: 'png' });
  await writeFile(out, smallPng(await pixels(sheet, shot)));
  console.log(`wrote ${out} (${Math.round((await stat(out)).size / 1024)} KB)`);
} finally {
  await browser.close();
  await demo.close();
  await rm(outDir, { recursive: true, force: true });
}
