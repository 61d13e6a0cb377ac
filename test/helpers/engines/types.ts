/**
 * What the browser suites ask of an engine, and nothing more: open a tab at a URL, evaluate a function with an
 * argument in it, several tabs of one context (shared storage), a fresh context per test, and every uncaught page
 * error or console.error of a context's tabs. Chromium (Playwright), Firefox (WebDriver BiDi through puppeteer-core)
 * and WebKitGTK (classic W3C WebDriver) each implement it in their own file.
 */
export const ENGINES = ['chromium', 'webkit', 'firefox'] as const;
export type EngineName = (typeof ENGINES)[number];

/** An uncaught error or console.error of a tab. */
export interface PageError {
  tab: string;
  kind: 'pageerror' | 'console.error';
  text: string;
}

export interface Tab {
  readonly label: string;
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /**
   * Run `fn(arg)` in the page and return its (awaited, JSON-shaped) result. `fn` is sent as source text, so it may
   * use only the page's globals and its argument. A string is evaluated as an expression.
   */
  evaluate<R>(fn: string): Promise<R>;
  evaluate<R>(fn: () => R): Promise<Awaited<R>>;
  evaluate<A, R>(fn: (arg: A) => R, arg: A): Promise<Awaited<R>>;
  /** A user's click on the first element matching `selector`. */
  click(selector: string): Promise<void>;
  /** Replace the text of the input matching `selector`, as typing would. */
  fill(selector: string, text: string): Promise<void>;
  screenshot(path: string): Promise<void>;
  /** Cookies the browser holds for `url` (in WebKit: for the tab's current document, which must be on that site). */
  cookies(url: string): Promise<{ name: string; httpOnly: boolean }[]>;
  close(): Promise<void>;
}

export interface Context {
  /** A new tab (in WebKit a new window of the session, so no tab is a throttled background one). */
  newTab(label: string): Promise<Tab>;
  /** Called for each error of any of this context's tabs, as it is seen. */
  onError(listener: (e: PageError) => void): void;
  /** Cut the context off the network and back (Chromium only: neither WebDriver here has such a switch). */
  setOffline?(offline: boolean): Promise<void>;
  /** Collect what is still pending (WebKit reads its in-page watch), then close every tab. */
  close(): Promise<void>;
}

export interface Engine {
  readonly name: EngineName;
  /** A context with empty storage and no cookies. */
  newContext(): Promise<Context>;
  close(): Promise<void>;
}
