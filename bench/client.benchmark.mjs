/* global HybridSession -- the UMD global, inside page.evaluate() callbacks */
// The client in real Chromium (playwright-core, Debian's /usr/bin/chromium), against a local server running the
// built shim. Pages and API are one origin, served cross-origin isolated (COOP + COEP) so performance.now() has
// its fine (5 µs) resolution.
//  - fetch: batches of sequential `session.fetch` against batches of plain `fetch` with the Authorization header
//    added by hand, interleaved in one page; time per request measured in the page.
//  - ready: a fresh page per sample. Both libraries are loaded by <script> tags in every variant; the timed inline
//    script starts at its first statement (nothing has touched storage yet) and ends when `ready()` resolves /
//    the bare read returns the token. The token was stored beforehand by a real ready() against the endpoint.
//  - storage reads: Storage.prototype.getItem and IDBObjectStore.prototype.{get,getAll,getKey,openCursor} wrapped
//    by an init script; the count must be 0 over session.fetch calls after ready().
import express from 'express';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { compare } from './lib/measure.mjs';
import { notRun, pick, report } from './lib/report.mjs';
import { close, listen, serverOrNotRun } from './lib/server-setup.mjs';

const root = new URL('..', import.meta.url).pathname;
const ROWS = ['client.fetch', 'client.ready-indexeddb', 'client.ready-localstorage', 'client.storage-reads'];
const bail = (reason) => {
  for (const id of ROWS) notRun(id, reason);
  process.exit(0);
};

const { noChromium, chromiumExecutable, CHROMIUM_ARGS } = await import('../test/helpers/env.ts');
if (noChromium) bail(noChromium);
let umd;
try {
  umd = readFileSync(join(root, 'dist/hybrid-session.umd.min.js'), 'utf8');
} catch {
  bail('dist/hybrid-session.umd.min.js not built');
}
if (!/createSession/.test(umd)) bail('the UMD build has no createSession yet (src/client not written)');
const mod = await serverOrNotRun(ROWS);
const idbKeyvalUmd = readFileSync(join(root, 'node_modules/idb-keyval/dist/umd.js'), 'utf8');

// ---- server ------------------------------------------------------------------------------------------------------
const hs = mod.hybridSession({ secret: 'bench-secret-' + randomBytes(24).toString('hex') });
let tokenRequests = 0;
const app = express();
app.use((req, res, next) => {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  if (req.path === hs.options.tokenPath) tokenRequests++;
  next();
});
const js = (body) => (req, res) => res.type('text/javascript').send(body);
app.get('/hs.js', js(umd));
app.get('/idb-keyval.js', js(idbKeyvalUmd));
const HEAD = '<!doctype html><html><head><meta charset="utf-8"><script src="/idb-keyval.js"></script><script src="/hs.js"></script>';
app.get('/', (req, res) => res.type('html').send(`${HEAD}</head><body>bench</body></html>`));
// One page per ready() sample; the variant's code is inlined so the timer starts with the script.
app.get('/ready', (req, res) => {
  const { side, backend, db, store, key } = req.query;
  const read =
    side === 'ours'
      ? `const s = HybridSession.createSession({ url: location.origin, storage: ${JSON.stringify(backend)} }); await s.ready(); const token = s.token;`
      : backend === 'indexedDB'
        ? `const token = await idbKeyval.get(${JSON.stringify(key)}, idbKeyval.createStore(${JSON.stringify(db)}, ${JSON.stringify(store)}));`
        : `const token = localStorage.getItem(${JSON.stringify(key)});`;
  res.type('html').send(
    `${HEAD}<script>window.__done = (async () => { const t0 = performance.now(); ${read} const t1 = performance.now(); return { ms: t1 - t0, sinceNavigation: t1, token: typeof token === 'string' ? token : JSON.stringify(token) }; })();</script></head><body></body></html>`,
  );
});
app.use(hs.middleware);
app.get('/api/ping', (req, res) => res.end(req.headers.authorization ? 'bearer' : 'none'));
const { server, url } = await listen(app);

// ---- browser -----------------------------------------------------------------------------------------------------
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: chromiumExecutable(), args: CHROMIUM_ARGS });
const context = await browser.newContext();
await context.addInitScript(() => {
  window.__reads = 0;
  // The device key (binding, `<key>.dpop` in IndexedDB) is counted on its own: it is read once per page, at its first
  // use, where the token is read once at ready(); the row's question is whether a request reads the token again.
  window.__keyReads = 0;
  const wrap = (proto, name) => {
    const orig = proto[name];
    proto[name] = function (...args) {
      if (typeof args[0] === 'string' && args[0].endsWith('.dpop')) window.__keyReads++;
      else window.__reads++;
      return orig.apply(this, args);
    };
  };
  wrap(Storage.prototype, 'getItem');
  for (const m of ['get', 'getAll', 'getKey', 'openCursor']) wrap(IDBObjectStore.prototype, m);
});
const page = await context.newPage();

try {
  await page.goto(url + '/');
  if (!(await page.evaluate(() => self.crossOriginIsolated))) console.error('  note: page not cross-origin isolated: performance.now() is coarse');

  // Store a token in each backend with a real ready() against the endpoint, and find where it lives.
  const where = {};
  for (const backend of ['indexedDB', 'localStorage']) {
    where[backend] = await page.evaluate(async (backend) => {
      const s = HybridSession.createSession({ url: location.origin, storage: backend });
      await s.ready();
      if (!s.token) throw new Error(`ready() with ${backend} gave no token`);
      const found = { token: s.token, storage: s.storage };
      if (backend === 'localStorage') {
        for (let i = 0; i < localStorage.length; i++) {
          const k = localStorage.key(i);
          if (localStorage.getItem(k)?.includes(s.token)) found.key = k;
        }
      } else {
        for (const { name } of await indexedDB.databases()) {
          const db = await new Promise((ok, ko) => Object.assign(indexedDB.open(name), { onsuccess: (e) => ok(e.target.result), onerror: ko }));
          for (const storeName of db.objectStoreNames) {
            const tx = db.transaction(storeName);
            const keys = await new Promise((ok) => (tx.objectStore(storeName).getAllKeys().onsuccess = (e) => ok(e.target.result)));
            for (const k of keys) {
              const v = await new Promise((ok) => (db.transaction(storeName).objectStore(storeName).get(k).onsuccess = (e) => ok(e.target.result)));
              if (String(typeof v === 'string' ? v : JSON.stringify(v)).includes(s.token)) Object.assign(found, { db: name, store: storeName, key: k });
            }
          }
          db.close();
        }
      }
      return found;
    }, backend);
    if (!where[backend].key) throw new Error(`could not find the stored token in ${backend}`);
    if (where[backend].storage !== backend) console.error(`  note: asked for ${backend}, session.storage is ${where[backend].storage}`);
  }

  // -- session.fetch vs fetch + header --
  // Unbound: this row is the wrapper's own overhead; a bound fetch's proof is client.bound-fetch below. The cookies
  // of the bound sessions above go first: a page that keeps no key cannot renew a bound session by its cookie.
  await context.clearCookies();
  await page.evaluate(async () => {
    window.__s = HybridSession.createSession({ url: location.origin, storage: 'indexedDB', key: 'bench-plain', binding: false });
    window.__u = HybridSession.createSession({ url: location.origin, storage: 'indexedDB', key: 'bench-unbound', binding: false });
    await window.__s.ready();
    await window.__u.ready();
  });
  // And the unbound session's cookie goes before a bound one is made (it would bind that session).
  await context.clearCookies();
  const sent = await page.evaluate(async () => (await window.__s.fetch('/api/ping')).text());
  if (sent !== 'bearer') throw new Error(`session.fetch did not send the bearer (server saw ${sent})`);
  const N = pick(40, 10);
  const batch = (ours) => () =>
    page.evaluate(
      async ({ ours, n }) => {
        const s = window.__s;
        const target = location.origin + '/api/ping';
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const res = ours ? await s.fetch('/api/ping') : await fetch(target, { headers: { Authorization: 'Bearer ' + s.token } });
          await res.text();
        }
        return ((performance.now() - t0) / n) * 1000;
      },
      { ours, n: N },
    );
  const f = await compare(batch(true), batch(false), { sampled: true, unit: 'µs/req', warmup: 2, runs: pick(25, 3) });
  report({ id: 'client.fetch', ...f, notes: `${N} sequential requests per run, same origin, keep-alive; server in the bench process` });

  // -- a bound session.fetch (DPoP proof signed per request) vs the same session.fetch unbound (binding: false) --
  const bound = await page.evaluate(async () => {
    window.__b = HybridSession.createSession({ url: location.origin, storage: 'indexedDB', key: 'bench-bound' });
    await window.__b.ready();
    return [window.__b.bound, window.__u.bound];
  });
  if (!bound[0] || bound[1]) throw new Error(`expected one bound and one unbound session, got ${bound}`);
  const boundBatch = (which) => () =>
    page.evaluate(
      async ({ which, n }) => {
        const s = window[which];
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await (await s.fetch('/api/ping')).text();
        return ((performance.now() - t0) / n) * 1000;
      },
      { which, n: N },
    );
  const b = await compare(boundBatch('__b'), boundBatch('__u'), { sampled: true, unit: 'µs/req', warmup: 2, runs: pick(25, 3) });
  const extra = (b.ours.median - b.baseline.median) / 1000;
  report({
    id: 'client.bound-fetch',
    ...b,
    notes: `${N} sequential requests per run; the proof's cost per request (median difference): ${extra.toFixed(3)} ms (goal ≤ 1 ms); server verifies every proof`,
  });

  // -- storage reads per session.fetch after ready() --
  const reads = {};
  for (const backend of ['indexedDB', 'localStorage']) {
    await page.goto(url + '/');
    reads[backend] = await page.evaluate(
      async ({ backend, n }) => {
        const s = HybridSession.createSession({ url: location.origin, storage: backend });
        await s.ready();
        const duringReady = window.__reads;
        window.__reads = 0;
        window.__keyReads = 0;
        for (let i = 0; i < n; i++) await (await s.fetch('/api/ping')).text();
        return { duringReady, duringFetches: window.__reads, keyReadsDuringFetches: window.__keyReads, bound: s.bound };
      },
      { backend, n: 20 },
    );
  }
  const perFetch = Math.max(reads.indexedDB.duringFetches, reads.localStorage.duringFetches) / 20;
  const hooked = reads.indexedDB.duringReady > 0 && reads.localStorage.duringReady > 0;
  report({
    id: 'client.storage-reads',
    value: perFetch,
    met: hooked ? perFetch === 0 : false,
    display: {
      ours: `${perFetch} per fetch (IndexedDB ${reads.indexedDB.duringFetches}, localStorage ${reads.localStorage.duringFetches} over 20)`,
      baseline: '—',
      ratio: `ready() itself: ${reads.indexedDB.duringReady} IDB / ${reads.localStorage.duringReady} localStorage reads`,
      short: `${perFetch} token reads per session.fetch (IndexedDB, localStorage; 20 fetches each)`,
    },
    notes: hooked
      ? `the device key (bound: ${reads.indexedDB.bound}/${reads.localStorage.bound}) read ${reads.indexedDB.keyReadsDuringFetches} / ${reads.localStorage.keyReadsDuringFetches} times over the 20 fetches: once per page, at its first use, not per request`
      : 'the read counter saw no read during ready(): the hook does not see the client\'s reads',
    extra: reads,
  });

  // -- ready() with a stored token vs the bare read --
  const before = tokenRequests;
  for (const backend of ['indexedDB', 'localStorage']) {
    const w = where[backend];
    const q = (side) => `${url}/ready?side=${side}&backend=${backend}&db=${encodeURIComponent(w.db ?? '')}&store=${encodeURIComponent(w.store ?? '')}&key=${encodeURIComponent(w.key)}`;
    const nav = { ours: [], base: [] };
    const sample = (side) => async () => {
      await page.goto(q(side));
      const r = await page.evaluate(() => window.__done);
      if (!r.token || !r.token.includes(w.token)) throw new Error(`${side} ${backend}: read ${r.token}, expected the stored token`);
      nav[side].push(r.sinceNavigation);
      return r.ms;
    };
    const r = await compare(sample('ours'), sample('base'), { sampled: true, unit: 'ms', warmup: 2, runs: pick(21, 3) });
    const { summarize } = await import('./lib/stats.mjs');
    const navOurs = summarize(nav.ours.slice(2), 'ms since navigation');
    const navBase = summarize(nav.base.slice(2), 'ms since navigation');
    report({
      id: backend === 'indexedDB' ? 'client.ready-indexeddb' : 'client.ready-localstorage',
      ...r,
      notes: `from navigation start: ${navOurs.median.toFixed(1)} vs ${navBase.median.toFixed(1)} ms (${(navOurs.median / navBase.median).toFixed(2)}×)`,
      extra: { fromNavigationOurs: navOurs, fromNavigationBaseline: navBase, key: w.key, db: w.db, store: w.store },
    });
  }
  if (tokenRequests !== before) console.error(`  note: ${tokenRequests - before} token endpoint requests during the ready() samples (a stored token should need none)`);
} finally {
  await browser.close();
  hs.close?.();
  await close(server);
}
