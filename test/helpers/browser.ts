/**
 * What the client's browser tests share: the real server shim (express + ws + hybridSession) on loopback, a static
 * server for the pages on another origin, a real browser of each engine (Chromium, WebKitGTK, Firefox: see
 * ./engines/), and a watch that fails a test on any uncaught page error.
 *
 * Origins: pages on http://127.0.0.1:<A>, the API on http://localhost:<B> — another site, so no cookie crosses and
 * the token is the only credential (the hybrid-app case). `sameOrigin: true` serves the pages from the API instead.
 */
import { after, before, describe } from 'node:test';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { hybridSession, type HybridSession, type HybridSessionOptions } from '../../src/server/index.ts';
import { ENGINES, launchEngine, type Context, type Engine, type EngineName, type Tab } from './engines/index.ts';
import { PAGE_WATCH } from './engines/page-watch.ts';
import { noEngine } from './env.ts';
import { close, listen } from './net.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SECRET = 'browser-tests-secret-0123456789-abcdefghijklmnop';

export interface Upgrade {
  /** Sec-WebSocket-Protocol as offered. */
  offered: string[];
  /** The protocol the server selected. */
  selected: string;
  url: string;
  sid: string;
  ws: WebSocket;
}

export interface Api {
  /** http://localhost:<port> */
  url: string;
  hs: HybridSession;
  /** Requests to the token endpoint, by method. */
  tokenRequests: { POST: number; DELETE: number };
  /** Every Authorization header the API received, in order (what the browser really sent). */
  authorizations: string[];
  /**
   * Hold the token endpoint's POSTs from now until `release()`: makes "while a renewal is in flight" an explicit
   * order instead of a race with a fast loopback answer.
   */
  holdTokenPosts(): { held(): number; release(): void };
  /** The same for the token endpoint's DELETEs (a logout the server is slow to carry out). */
  holdTokenDeletes(): { held(): number; release(): void };
  /** Hold the answers of POST /api/login (its session already regenerated) from now until `release()`. */
  holdLogins(): { held(): number; release(): void };
  /** Every request to the token endpoint, in order: `<method> <Authorization or null>` (cut or not). */
  tokenLog: string[];
  /**
   * Cut the API off (true) or back (false): while cut, every request to the API's routes and token endpoint has its
   * connection destroyed, the browser's view of a network that is down (no WebDriver here can take a page offline).
   * The fixture pages are still served, so a page can be reloaded meanwhile.
   */
  cut(on: boolean): void;
  upgrades: Upgrade[];
  /** Every message the websocket received, in order (what the browser really sent). */
  messages: string[];
  /** Every closed server-side socket: [sid, code]. */
  closed: [string, number][];
  /** Serve static files too (same-origin pages). */
  pages: string;
  close(): Promise<void>;
}

export interface ApiOptions extends Partial<HybridSessionOptions> {
  /** What the websocket does with a connection: 'echo' (default) answers {sid, data}; 'close4401' closes it at once. */
  ws?: HybridSessionOptions['ws'];
  socket?: 'echo' | 'close4401';
  /** Close every accepted connection with 4401 after it stayed open this many ms (a server refusing late). */
  refuseAfter?: number;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

/**
 * Scripts a test wants run before any page script (an engine-neutral init script: classic WebDriver has none):
 * a fixture page asked for with `?init=<id>` gets the script registered under that id inlined first in <head>,
 * after the page-error watch every fixture page gets (see ./engines/page-watch.ts).
 */
const initScripts = new Map<string, string>();
let initIds = 0;

/** Register `init` (sent as source text, like an evaluate callback); returns the id for `?init=`. */
export function registerInit(init: () => void): string {
  const id = String(++initIds);
  initScripts.set(id, `(${init})();`);
  return id;
}

function withScripts(html: string, init: string | undefined): string {
  const scripts = `<script>${PAGE_WATCH}</script>` + (init ? `<script>${init}</script>` : '');
  return html.replace(/<head[^>]*>/i, (head) => head + scripts);
}

/** Fixture pages, the built dist/, the ESM dependency the import maps name (idb-keyval) and Capacitor's builds; nothing else. */
const SERVED = [
  ['/dist/', join(root, 'dist')],
  ['/node_modules/idb-keyval/', join(root, 'node_modules/idb-keyval')],
  // The real Capacitor packages' script-tag builds, for the storage adapters' page.
  ['/node_modules/@capacitor/core/', join(root, 'node_modules/@capacitor/core')],
  ['/node_modules/@capacitor/preferences/', join(root, 'node_modules/@capacitor/preferences')],
  ['/', join(root, 'test/browser/fixtures')],
] as const;

async function serveStatic(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = decodeURIComponent(url.pathname);
  for (const [prefix, dir] of SERVED) {
    if (!path.startsWith(prefix)) continue;
    const file = resolve(dir, '.' + path.slice(prefix.length - 1));
    if (!file.startsWith(dir + sep)) break;
    try {
      let body: Buffer | string = await readFile(file);
      if (extname(file) === '.html') body = withScripts(body.toString('utf8'), initScripts.get(url.searchParams.get('init') ?? ''));
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(body);
      return true;
    } catch {
      break;
    }
  }
  return false;
}

export async function startPages(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    serveStatic(req, res).then((done) => {
      if (!done) res.writeHead(404).end();
    });
  });
  const url = await listen(server);
  return { url, close: () => close(server) };
}

/** The real shim on loopback: hybridSession's middleware and upgrades, and a tiny app around them. */
export async function startApi(options: ApiOptions = {}): Promise<Api> {
  const { socket = 'echo', refuseAfter, ...hsOptions } = options;
  const hs = hybridSession({ secret: SECRET, ...hsOptions } as HybridSessionOptions);
  const tokenPath = hs.options.tokenPath;
  const tokenRequests = { POST: 0, DELETE: 0 };
  const authorizations: string[] = [];
  let held: (() => void)[] | null = null;
  let heldLogins: (() => void)[] | null = null;
  let heldDeletes: (() => void)[] | null = null;
  const tokenLog: string[] = [];
  let cut = false;
  const upgrades: Upgrade[] = [];
  const closed: [string, number][] = [];
  const messages: string[] = [];
  const app = express();
  app.use((req, _res, next) => {
    if (req.path === tokenPath) tokenLog.push(`${req.method} ${req.headers.authorization ?? null}`);
    if (cut && (req.path === tokenPath || req.path.startsWith('/api/'))) return void req.socket.destroy();
    if (req.headers.authorization) authorizations.push(req.headers.authorization);
    if (req.path === tokenPath && (req.method === 'POST' || req.method === 'DELETE')) tokenRequests[req.method]++;
    if (held && req.path === tokenPath && req.method === 'POST') held.push(next);
    else if (heldDeletes && req.path === tokenPath && req.method === 'DELETE') heldDeletes.push(next);
    else next();
  });
  app.use(hs.middleware as express.RequestHandler);
  type Req = express.Request & { session: any; sessionID: string };
  app.get('/api/me', (req, res) => {
    const r = req as Req;
    res.json({ sid: r.sessionID, n: r.session.n ?? 0, user: r.session.user ?? null, auth: req.headers.authorization ?? null });
  });
  app.post('/api/inc', (req, res) => {
    const r = req as Req;
    r.session.n = (r.session.n ?? 0) + 1;
    res.json({ sid: r.sessionID, n: r.session.n });
  });
  // An API route that redirects wherever it is told (an avatar or file link, an open redirect).
  app.get('/api/redirect', (req, res) => res.redirect(302, String(req.query.to)));
  app.post('/api/echo', express.text({ type: '*/*' }), (req, res) => {
    res.json({ body: req.body, auth: req.headers.authorization ?? null });
  });
  app.post('/api/login', (req, res, next) => {
    const r = req as Req;
    r.session.regenerate((err: unknown) => {
      if (err) return next(err);
      r.session.user = 'alice';
      const answer = () => res.json({ sid: r.sessionID });
      if (heldLogins) heldLogins.push(answer);
      else answer();
    });
  });
  app.use(async (req, res, next) => ((await serveStatic(req, res)) ? undefined : next()));

  const server: Server = createServer(app);
  const wss = new WebSocketServer({ noServer: true });
  hs.attach(server, wss);
  wss.on('connection', (ws, req) => {
    const r = req as IncomingMessage & { sessionID: string };
    upgrades.push({
      offered: String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean),
      selected: ws.protocol,
      url: req.url ?? '',
      sid: r.sessionID,
      ws,
    });
    ws.on('close', (code) => closed.push([r.sessionID, code]));
    if (socket === 'close4401') return ws.close(4401, 'refused by the app');
    if (refuseAfter !== undefined) setTimeout(() => ws.close(4401, 'refused by the app'), refuseAfter);
    ws.on('message', (data) => messages.push(String(data)));
    ws.on('message', (data) => ws.send(JSON.stringify({ sid: hs.sessionOf(ws).sessionID, data: String(data) })));
  });
  const base = await listen(server);
  const url = base.replace('127.0.0.1', 'localhost');
  return {
    url,
    hs,
    tokenRequests,
    authorizations,
    holdTokenPosts() {
      const queue: (() => void)[] = (held = []);
      return {
        held: () => queue.length,
        release() {
          if (held === queue) held = null;
          queue.forEach((next) => next());
        },
      };
    },
    holdTokenDeletes() {
      const queue: (() => void)[] = (heldDeletes = []);
      return {
        held: () => queue.length,
        release() {
          if (heldDeletes === queue) heldDeletes = null;
          queue.splice(0).forEach((next) => next());
        },
      };
    },
    holdLogins() {
      const queue: (() => void)[] = (heldLogins = []);
      return {
        held: () => queue.length,
        release() {
          if (heldLogins === queue) heldLogins = null;
          queue.splice(0).forEach((answer) => answer());
        },
      };
    },
    tokenLog,
    cut(on) {
      cut = on;
    },
    upgrades,
    messages,
    closed,
    pages: base,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      hs.close();
      await close(server);
    },
  };
}

export const BUILDS = { umd: 'umd.html', esm: 'esm.html', capacitor: 'capacitor.html' } as const;

/** Open a fixture page (UMD by default; `init` from registerInit) and wait until window.HybridSession is there. */
export async function openFixture(tab: Tab, pagesUrl: string, build: keyof typeof BUILDS = 'umd', init?: string): Promise<void> {
  await tab.goto(`${pagesUrl}/${BUILDS[build]}${init ? `?init=${init}` : ''}`);
  await waitForHarness(tab);
}

/** The fixture's harness is loaded (the ESM page adds it once its module ran). */
export function waitForHarness(tab: Tab): Promise<boolean> {
  return until(`the fixture harness in ${tab.label}`, () => tab.evaluate(() => 'HybridSession' in window && 'start' in window));
}

/** Poll `check` until it holds; the bound only keeps a broken run from hanging. */
export async function until<T>(what: string, check: () => Promise<T> | T, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type Pages = Awaited<ReturnType<typeof startPages>>;

/**
 * One describe block per engine, titled `<title> [<engine>]`, skipped with a named reason where the engine is not
 * installed (a failure under CI=true). Each engine's tests count on their own in the summary line.
 */
export function describeEngines(title: string, options: { timeout?: number }, body: (engine: EngineName) => void): void {
  for (const engine of ENGINES) describeEngine(engine, title, options, body);
}

/**
 * The same for one engine: for suites too long to run all three engines in one file within the runner's per-file
 * timeout, each engine gets a file of its own (`<suite>.<engine>.test.ts`) calling the shared suite.
 */
export function describeEngine(engine: EngineName, title: string, options: { timeout?: number }, body: (engine: EngineName) => void): void {
  describe(`${title} [${engine}]`, { skip: noEngine(engine), timeout: 180_000, ...options }, () => body(engine));
}

/** One browser of `name` for a describe block: launched before its tests, closed after them. */
export function useEngine(name: EngineName, use: (engine: Engine) => void): void {
  let engine: Engine | undefined;
  before(async () => {
    engine = await launchEngine(name);
    use(engine);
  });
  after(async () => {
    await engine?.close();
  });
}

/**
 * For one describe block: the fixture pages' server, one API per entry of `apis` (each allowing the pages' origin
 * unless told otherwise) and a browser of `engine`, started before its tests and closed after them.
 */
export function useBrowserSuite<K extends string>(
  engineName: EngineName,
  apis: Record<K, ApiOptions>,
  use: (suite: { engine: Engine; pages: Pages; apis: Record<K, Api> }) => void,
): void {
  let engine: Engine | undefined;
  let pages: Pages | undefined;
  const started: Api[] = [];
  before(async () => {
    pages = await startPages();
    const byName = {} as Record<K, Api>;
    for (const name of Object.keys(apis) as K[]) {
      byName[name] = await startApi({ allowedOrigins: [pages.url], ...apis[name] });
      started.push(byName[name]);
    }
    engine = await launchEngine(engineName);
    use({ engine, pages, apis: byName });
  });
  after(async () => {
    await engine?.close();
    for (const api of started) await api.close();
    await pages?.close();
  });
}

export interface FreshContext {
  context: Context;
  /** A watched tab on the fixture (UMD by default), in this context. */
  open(label?: string, build?: keyof typeof BUILDS): Promise<Tab>;
}

/**
 * `fn` in a fresh context (empty storage, `init` run before any page script), closed however it ends; fails on any
 * uncaught page error or console error of its pages.
 */
export async function inFreshContext(engine: Engine, pagesUrl: string, fn: (c: FreshContext) => Promise<void>, init?: () => void): Promise<void> {
  const errors: string[] = [];
  const context = await engine.newContext();
  context.onError((e) => errors.push(`[${e.tab}] ${e.kind}: ${e.text}`));
  const initId = init ? registerInit(init) : undefined;
  try {
    const open = async (label = 'page', build: keyof typeof BUILDS = 'umd') => {
      const tab = await context.newTab(label);
      await openFixture(tab, pagesUrl, build, initId);
      return tab;
    };
    await fn({ context, open });
  } finally {
    await context.close();
  }
  if (errors.length > 0) throw new Error(`page errors:\n${errors.join('\n')}`);
}
