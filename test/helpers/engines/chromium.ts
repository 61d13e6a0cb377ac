/** Chromium through Playwright, launched from Debian's /usr/bin/chromium (Playwright cannot download its own here). */
import { chromium as playwright, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, engineExecutable } from '../env.ts';
import type { Context, Engine, PageError, Tab } from './types.ts';

/** Chromium's own report of a network failure (a 401, a refused socket): the browser's, not the page's. */
const NETWORK_REPORT = /Failed to load resource|WebSocket connection to/;

export async function launchChromium(): Promise<Engine> {
  const browser = await playwright.launch({ executablePath: engineExecutable('chromium')!, args: CHROMIUM_ARGS });
  return {
    name: 'chromium',
    async newContext(): Promise<Context> {
      const context = await browser.newContext();
      const listeners: ((e: PageError) => void)[] = [];
      const report = (e: PageError) => listeners.forEach((l) => l(e));
      return {
        async newTab(label) {
          const page = await context.newPage();
          page.on('pageerror', (e) => report({ tab: label, kind: 'pageerror', text: e.stack ?? e.message }));
          page.on('console', (m) => {
            if (m.type() === 'error' && !NETWORK_REPORT.test(m.text())) report({ tab: label, kind: 'console.error', text: m.text() });
          });
          return playwrightTab(page, label);
        },
        onError: (l) => void listeners.push(l),
        setOffline: (offline) => context.setOffline(offline),
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}

function playwrightTab(page: Page, label: string): Tab {
  return {
    label,
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    evaluate: ((fn: string | ((a: unknown) => unknown), arg?: unknown) => page.evaluate(fn as never, arg)) as Tab['evaluate'],
    click: (selector) => page.click(selector),
    fill: (selector, text) => page.fill(selector, text),
    screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
    cookies: (url) => page.context().cookies(url),
    close: () => page.close(),
  };
}
