/**
 * What a Playwright page (Chromium) and a puppeteer-core page (Firefox) have alike, and the Context and Tab built
 * on it once: each engine file gives only what differs (how to open a page, which reports are the browser's own,
 * fill / screenshot / cookies). WebKit has no page object (classic WebDriver) and builds its own.
 */
import type { Context, PageError, Tab } from './types.ts';

interface ConsoleMessage {
  type(): string;
  text(): string;
}

export interface DrivenPage {
  // One loose signature: Playwright declares an overload per event, puppeteer one generic; both fit this.
  on(event: 'pageerror' | 'console', listener: (arg: any) => void): unknown;
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  evaluate(fn: never, arg?: never): Promise<unknown>;
  click(selector: string): Promise<void>;
  close(): Promise<void>;
}

export interface DrivenContext<P extends DrivenPage> {
  newPage(): Promise<P>;
  close(): Promise<void>;
  setOffline?(offline: boolean): Promise<void>;
}

/**
 * `browserReport` matches the browser's own reports of a network failure (a 401, a refused socket, a cookie it
 * refused on purpose): the browser's, not the page's, so they are not page errors.
 */
export function drivenContext<P extends DrivenPage>(
  context: DrivenContext<P>,
  browserReport: RegExp,
  ownParts: (page: P) => Pick<Tab, 'fill' | 'screenshot' | 'cookies'>,
): Context {
  const listeners: ((e: PageError) => void)[] = [];
  const report = (e: PageError) => listeners.forEach((l) => l(e));
  return {
    async newTab(label) {
      const page = await context.newPage();
      page.on('pageerror', (e) => {
        const error = e instanceof Error ? e : new Error(String(e));
        if (!browserReport.test(error.message)) report({ tab: label, kind: 'pageerror', text: error.stack ?? error.message });
      });
      page.on('console', (m: ConsoleMessage) => {
        if (m.type() === 'error' && !browserReport.test(m.text())) report({ tab: label, kind: 'console.error', text: m.text() });
      });
      return {
        label,
        goto: async (url) => void (await page.goto(url)),
        reload: async () => void (await page.reload()),
        evaluate: ((fn: string | ((a: unknown) => unknown), arg?: unknown) => page.evaluate(fn as never, arg as never)) as Tab['evaluate'],
        click: (selector) => page.click(selector),
        close: () => page.close(),
        ...ownParts(page),
      };
    },
    onError: (l) => void listeners.push(l),
    setOffline: context.setOffline?.bind(context),
    close: () => context.close(),
  };
}
