/**
 * What every end-to-end suite shares: the demo server on free ports (built into a temp dir, so suites running in
 * parallel never share files), a real browser of the suite's engine (test/helpers/engines/), a strict
 * console/page-error watch, and readers for what the demo page shows.
 */
import { after, before } from 'node:test';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchEngine, type Context, type Engine, type EngineName, type PageError, type Tab } from '../helpers/engines/index.ts';
import { startDemo as startDemoJs, type Demo, type DemoOptions } from '../../demo/server.mjs';

export type { Demo, DemoOptions };

/** A fixed secret per test process: a restarted server must accept the tokens its predecessor issued. */
const SECRET = 'e2e-secret-0123456789abcdefghijklmnopqrstuvwxyz';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startDemo(options: Omit<DemoOptions, 'quiet'> = {}): Promise<Demo> {
  return startDemoJs({ port: 0, staticPort: 0, quiet: true, secret: SECRET, store: 'memory', ...options });
}

type Page = Tab;

/**
 * Collects everything that must fail a test: uncaught page errors, and console messages of type "error".
 *
 * The one filter: a browser itself logs a console error for network failures (Chromium for every refused
 * websocket or fetch and every HTTP 4xx/5xx resource load). Those are the browser reporting the network, not the
 * page failing, and a test that stops the API server on purpose causes them, and a request the contract lets the
 * server refuse (a 401 for a token that died while the app was closed) prints one. `allowNetworkErrors(pattern,
 * max)` lets through only console errors matching that pattern, at most `max` times, for the test that calls it;
 * everything else, and every `pageerror`, still fails.
 */
export class ErrorWatch {
  readonly errors: string[] = [];
  readonly allowed: string[] = [];
  private allowances: Array<{ pattern: RegExp; max: number; used: number }> = [];

  attach(context: Context): void {
    context.onError((e: PageError) => {
      const text = `[${e.tab}] ${e.kind}: ${e.text}`;
      const allowance = e.kind === 'console.error' && this.allowances.find((a) => a.pattern.test(e.text) && a.used < a.max);
      if (allowance) {
        allowance.used++;
        this.allowed.push(text);
      } else this.errors.push(text);
    });
  }

  /** Let through console errors matching `pattern`, at most `max` of them (more fail the test). */
  allowNetworkErrors(pattern: RegExp, max = Infinity): void {
    this.allowances.push({ pattern, max, used: 0 });
  }

  assertClean(): void {
    if (this.errors.length > 0) throw new Error(`page errors:\n${this.errors.join('\n')}`);
  }
}

/**
 * For one describe block: the demo (built into its own temp dir) and a browser of `engine`, started before its
 * tests and stopped after them. `use` receives both once they run.
 */
export function useDemo(
  engine: EngineName,
  prefix: string,
  options: Omit<DemoOptions, 'quiet' | 'outDir'>,
  use: (demo: Demo, browser: Engine) => void,
): void {
  let outDir: string | undefined;
  let demo: Demo | undefined;
  let browser: Engine | undefined;
  before(async () => {
    outDir = await tempDir(prefix);
    demo = await startDemo({ ...options, outDir });
    browser = await launchEngine(engine);
    use(demo, browser);
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
    if (outDir) await removeDir(outDir);
  });
}

export interface TestContext {
  context: Context;
  watch: ErrorWatch;
  /** A new watched tab in this context, at `url` when given. */
  open(label: string, url?: string): Promise<Page>;
}

/** A fresh context with `watch` attached (its own storage and cookies). */
export async function watchedContext(browser: Engine, watch: ErrorWatch): Promise<Context> {
  const context = await browser.newContext();
  watch.attach(context);
  return context;
}

/**
 * One test's browser work in a fresh context (its own storage and cookies), closed however the test ends. The test
 * fails on any page error, or console error the watch was not told to allow.
 */
export async function inContext(browser: Engine, body: (t: TestContext) => Promise<void>): Promise<void> {
  const watch = new ErrorWatch();
  const context = await watchedContext(browser, watch);
  const open = async (label: string, url?: string) => {
    const page = await context.newTab(label);
    if (url) await page.goto(url);
    return page;
  };
  try {
    await body({ context, watch, open });
  } finally {
    await context.close();
  }
  watch.assertClean();
}

/** What the demo page shows, read from the DOM as a person would read it. */
export interface Shown {
  user: string;
  signedIn: boolean;
  sid: string;
  count: string;
  via: string;
  storage: string;
  expires: string;
  cookie: string;
  ws: string;
  notice: string;
  /** Token rotation card: the token's generation, when the next rotation is due, the last "simulate theft" result. */
  generation: string;
  rotates: string;
  theft: string;
  /** Device binding: 'yes (DPoP)' / 'no (…)', and the bound key's thumbprint as the server holds it. */
  bound: string;
  thumbprint: string;
  log: string[];
}

/**
 * Read as a string: tsx compiles this file with esbuild's keepNames, which wraps inner functions in a `__name`
 * helper that does not exist in the page.
 */
const READ_PAGE = `(() => {
  const text = (id) => document.getElementById(id)?.textContent?.trim() ?? '';
  return {
    user: text('user'),
    signedIn: document.getElementById('user')?.getAttribute('data-signed-in') === 'true',
    sid: text('sid'),
    count: text('count'),
    via: text('count-via'),
    storage: text('storage'),
    expires: text('expires'),
    cookie: text('cookie'),
    ws: text('ws-state'),
    notice: text('notice'),
    generation: text('generation'),
    rotates: text('rotates'),
    theft: text('theft'),
    bound: text('bound'),
    thumbprint: text('thumbprint'),
    log: Array.from(document.querySelectorAll('#log li')).map((li) => li.textContent ?? ''),
  };
})()`;

export async function shown(page: Page): Promise<Shown> {
  return page.evaluate(READ_PAGE) as Promise<Shown>;
}

/** The session's current token, as the page's client holds it in memory. */
export async function tokenOf(page: Page): Promise<string | null> {
  return page.evaluate('window.demo.session.token') as Promise<string | null>;
}

/** Wait until what the page shows satisfies `ok` (polling the DOM); on timeout, say what it showed last. */
export async function until(page: Page, what: string, ok: (s: Shown) => boolean, timeout = 20_000): Promise<Shown> {
  const deadline = Date.now() + timeout;
  let last: Shown | undefined;
  while (Date.now() < deadline) {
    last = await shown(page);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}\npage showed: ${JSON.stringify(last, null, 2)}`);
}

/** The page has a session and a connected websocket. */
export function ready(page: Page, what = 'page ready'): Promise<Shown> {
  return until(page, what, (s) => s.sid !== '' && s.sid !== '–' && s.sid !== '…' && s.ws === 'connected' && s.count !== '–');
}

export async function signIn(page: Page, name: string): Promise<Shown> {
  const before = await shown(page);
  await page.fill('#name', name);
  await page.click('#sign-in');
  return until(
    page,
    `signed in as ${name} with a new session id and a connected websocket`,
    (s) => s.user === `Signed in as ${name}` && s.sid !== before.sid && s.ws === 'connected',
  );
}

export async function incHttp(page: Page, expected: number): Promise<Shown> {
  await page.click('#inc-http');
  return until(page, `count ${expected} after +1 over HTTP`, (s) => s.count === String(expected));
}

export async function incWs(page: Page, expected: number): Promise<Shown> {
  await page.click('#inc-ws');
  return until(page, `count ${expected} after +1 over the websocket`, (s) => s.count === String(expected) && /websocket/.test(s.via));
}

/** A screenshot a person can look at, in test-results/ (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = join(process.cwd(), 'test-results');
  await mkdir(dir, { recursive: true });
  await page.screenshot(join(dir, `${name}.png`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
