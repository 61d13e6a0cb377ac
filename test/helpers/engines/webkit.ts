/**
 * WebKitGTK, the engine of iOS's WKWebView: WebKitWebDriver driving MiniBrowser (`--automation`) under an Xvfb
 * started here, both stopped by their pids. Classic WebDriver has no browser contexts: a fresh context is a new
 * WebDriver session, a new MiniBrowser whose automation mode keeps all website data in memory, so it starts empty.
 *
 * A WebDriver session runs one command at a time, and "execute async script" holds the session until the script
 * ends, which would serialise what two tabs do "at once". So `evaluate` starts the function in the page, returns,
 * and polls for its result: two tabs' evaluations really overlap, as they do in Chromium and Firefox.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { engineExecutable, WEBKIT_MINIBROWSER } from '../env.ts';
import { freePort } from '../net.ts';
import { PAGE_WATCH } from './page-watch.ts';
import type { Context, Engine, PageError, Tab } from './types.ts';
import { command, WebDriverSession } from './webdriver.ts';
import { startXvfb, stopProcess } from './xvfb.ts';

const POLL_MS = 20;

/** WebKitWebDriver on a free port, once its /status says ready. */
async function startDriver(display: string): Promise<{ driver: ReturnType<typeof spawn>; base: string }> {
  const port = await freePort();
  const driver = spawn(engineExecutable('webkit')!, [`--port=${port}`, '--host=127.0.0.1'], {
    stdio: 'ignore',
    env: { ...process.env, DISPLAY: display },
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const ready = await command<{ ready: boolean }>(base, 'GET', '/status').then((s) => s.ready, () => false);
      if (ready) break;
      if (driver.exitCode !== null || i > 600) throw new Error(`WebKitWebDriver did not start (exit ${driver.exitCode})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stopProcess(driver);
    throw e;
  }
  return { driver, base };
}

export async function launchWebKit(): Promise<Engine> {
  const display = await startXvfb(engineExecutable('xvfb')!);
  let current: { driver: ReturnType<typeof spawn>; base: string };
  try {
    current = await startDriver(display.name);
  } catch (e) {
    await display.stop();
    throw e;
  }
  const capabilities = { 'webkitgtk:browserOptions': { binary: WEBKIT_MINIBROWSER, args: ['--automation'] } };
  // WebKitWebDriver has been seen to die while starting a session (the request hangs, then "other side closed"),
  // taking every later test of the file with it. That is the test tool failing, not the page: a new driver, once.
  const newSession = async () => {
    try {
      return await WebDriverSession.create(current.base, capabilities);
    } catch {
      await stopProcess(current.driver);
      current = await startDriver(display.name);
      return WebDriverSession.create(current.base, capabilities);
    }
  };
  return {
    name: 'webkit',
    newContext: async () => webDriverContext(await newSession()),
    async close() {
      await stopProcess(current.driver);
      await display.stop();
    },
  };
}

function webDriverContext(session: WebDriverSession): Context {
  const listeners: ((e: PageError) => void)[] = [];
  const tabs: WebKitTab[] = [];
  // Every command that acts on a window first makes it current; one at a time, so none runs in another's window.
  let queue: Promise<unknown> = Promise.resolve();
  let current: string | null = null;
  const inWindow = <T>(handle: string, fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(async () => {
      if (current !== handle) await session.switchToWindow(handle);
      current = handle;
      return fn();
    });
    queue = run.catch(() => undefined);
    return run;
  };
  const report = (label: string, errors: { kind: PageError['kind']; text: string }[] | undefined) =>
    errors?.forEach((e) => listeners.forEach((l) => l({ tab: label, ...e })));
  // Closing a session's last window would end the session (and its storage): that window is parked on
  // about:blank instead, the page unloaded as when an app is closed, and the next tab opens in it.
  let parked: string | null = null;
  const closeTab = async (tab: WebKitTab) => {
    await tab.drainErrors();
    tab.closed = true;
    if (tabs.some((t) => !t.closed)) await inWindow(tab.handle, () => session.closeWindow());
    else {
      await inWindow(tab.handle, () => session.navigate('about:blank'));
      parked = tab.handle;
    }
  };
  return {
    async newTab(label) {
      const open = tabs.find((t) => !t.closed);
      let handle: string;
      if (tabs.length === 0) handle = await session.windowHandle();
      else if (!open) [handle, parked] = [parked!, null];
      else handle = await inWindow(open.handle, () => session.newWindow('window'));
      const tab = new WebKitTab(label, handle, session, inWindow, report, closeTab);
      tabs.push(tab);
      return tab;
    },
    onError: (l) => void listeners.push(l),
    async close() {
      try {
        for (const tab of tabs) if (!tab.closed) await tab.drainErrors();
      } finally {
        await session.delete();
      }
    },
  };
}

type Run = { json?: string; error?: string } | 'lost' | null;

class WebKitTab implements Tab {
  private runs = 0;
  closed = false;
  constructor(
    readonly label: string,
    readonly handle: string,
    private readonly session: WebDriverSession,
    private readonly inWindow: <T>(handle: string, fn: () => Promise<T>) => Promise<T>,
    private readonly report: (label: string, errors: { kind: PageError['kind']; text: string }[] | undefined) => void,
    private readonly closeTab: (tab: WebKitTab) => Promise<void>,
  ) {}

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return this.inWindow(this.handle, fn);
  }

  /** After a navigation: the watch, on pages that did not bring it (the fixture pages do, first thing). */
  private watch = () => this.session.execute(PAGE_WATCH);

  goto = (url: string) =>
    this.run(async () => {
      await this.session.navigate(url);
      await this.watch();
    });
  reload = () =>
    this.run(async () => {
      await this.session.refresh();
      await this.watch();
    });

  async drainErrors(): Promise<void> {
    const errors = await this.run(() => this.session.execute<PageError[]>('return window.__hsErrors ? window.__hsErrors.splice(0) : []')).catch(() => []);
    this.report(this.label, errors);
  }

  evaluate = (async (fn: string | ((arg: unknown) => unknown), arg?: unknown) => {
    const source = typeof fn === 'string' ? `(function () { return (${fn}); })` : `(${fn})`;
    const id = `${this.label}#${++this.runs}`;
    await this.run(() =>
      this.session.execute(
        `var id = arguments[0], arg = arguments[1];
         var runs = window.__hsRuns || (window.__hsRuns = {});
         runs[id] = null;
         Promise.resolve().then(function () { return ${source}(arg); }).then(
           function (v) { runs[id] = { json: JSON.stringify({ v: v }) }; },
           function (e) { runs[id] = { error: e && e.message !== undefined ? String(e.name) + ': ' + e.message + '\\n' + e.stack : String(e) }; });`,
        [id, arg ?? null],
      ),
    );
    for (;;) {
      const { run, errors } = await this.run(() =>
        this.session.execute<{ run: Run; errors?: PageError[] }>(
          `var runs = window.__hsRuns, id = arguments[0];
           var run = runs && id in runs ? runs[id] : 'lost';
           if (run) delete runs[id];
           return { run: run, errors: window.__hsErrors ? window.__hsErrors.splice(0) : [] };`,
          [id],
        ),
      );
      this.report(this.label, errors);
      if (run === 'lost') throw new Error(`[${this.label}] the page navigated away during evaluate`);
      if (run?.error !== undefined) throw new Error(`[${this.label}] evaluate: ${run.error}`);
      if (run) return (JSON.parse(run.json!) as { v: unknown }).v;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }) as Tab['evaluate'];

  click = (selector: string) => this.run(async () => this.session.click(await this.session.findElement(selector))).then(() => undefined);

  fill = (selector: string, text: string) =>
    this.run(async () => {
      const el = await this.session.findElement(selector);
      await this.session.clear(el);
      await this.session.sendKeys(el, text);
    });

  screenshot = (path: string) => this.run(async () => writeFile(path, Buffer.from(await this.session.screenshot(), 'base64')));

  cookies = (_url: string) => this.run(() => this.session.cookies());

  close = () => this.closeTab(this);
}
