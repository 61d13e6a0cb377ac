// CORS preflights per 20 `session.fetch` in each engine (Chromium, WebKitGTK, Firefox ESR through the tests' engine
// harness), from an http://localhost page and from a file:// page (Origin "null"), against the built server shim
// on another origin. A count, not a time: each preflight is one more round trip on a phone network. The token is
// taken first (ready()), so only the 20 app requests are counted.
/* global start, session -- the fixture harness (test/browser/fixtures/harness.js) defines them in the page */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer } from 'node:http';
import express from 'express';
import { report, notRun, pick } from './lib/report.mjs';

const root = new URL('..', import.meta.url).pathname;
const { ENGINES, launchEngine } = await import('../test/helpers/engines/index.ts');
const { noEngine } = await import('../test/helpers/env.ts');
const { startPages } = await import('../test/helpers/browser.ts');
const { listen, close } = await import('../test/helpers/net.ts');
const { hybridSession } = await import(join(root, 'dist/server/index.js'));

const REQUESTS = pick(20, 3);

const pages = await startPages();
// A file:// copy of the script-tag fixture, loading the built bundle and the harness from disk.
const dir = await mkdtemp(join(tmpdir(), 'hs-preflight-'));
const fileUrl = (p) => pathToFileURL(join(root, p)).href;
await writeFile(
  join(dir, 'index.html'),
  `<!doctype html><meta charset="utf-8"><script src="${fileUrl('dist/hybrid-session.umd.min.js')}"></script><script src="${fileUrl('test/browser/fixtures/harness.js')}"></script>`,
);

const hs = hybridSession({ secret: 'bench-preflight-secret-0123456789-abcdefghijkl', allowedOrigins: [pages.url, 'null'] });
let preflights = 0;
const app = express();
app.use((req, _res, next) => {
  if (req.method === 'OPTIONS') preflights++;
  next();
});
app.use(hs.middleware);
app.get('/api/me', (req, res) => res.json({ sid: req.sessionID }));
const server = createServer(app);
const api = (await listen(server)).replace('127.0.0.1', 'localhost');

async function count(engine, url) {
  const context = await engine.newContext();
  try {
    const tab = await context.newTab('bench');
    await tab.goto(url);
    for (let i = 0; i < 400 && !(await tab.evaluate(() => 'start' in window && 'HybridSession' in window)); i++) await new Promise((r) => setTimeout(r, 25));
    await tab.evaluate((api) => start({ url: api }).ready(), api);
    const before = preflights;
    await tab.evaluate(async (n) => {
      for (let i = 0; i < n; i++) await (await session.fetch('/api/me')).json();
    }, REQUESTS);
    return preflights - before;
  } finally {
    await context.close();
  }
}

const names = { chromium: 'Chromium', webkit: 'WebKitGTK', firefox: 'Firefox ESR' };
for (const name of ENGINES) {
  const id = `client.preflights-${name}`;
  const missing = noEngine(name);
  if (missing) {
    notRun(id, missing);
    continue;
  }
  const engine = await launchEngine(name);
  try {
    const http = await count(engine, `${pages.url}/umd.html`);
    const file = await count(engine, pathToFileURL(join(dir, 'index.html')).href);
    report({ id, value: http, display: { ours: `${http} / ${file} of ${REQUESTS} (${names[name]})` }, extra: { http, file, requests: REQUESTS } });
  } catch (e) {
    notRun(id, `${names[name]} failed: ${e.message}`);
  } finally {
    await engine.close();
  }
}

hs.close();
await close(server);
await pages.close();
await rm(dir, { recursive: true, force: true });
