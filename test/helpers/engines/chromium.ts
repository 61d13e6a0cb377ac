/** Chromium through Playwright, launched from Debian's /usr/bin/chromium (Playwright cannot download its own here). */
import { chromium as playwright } from 'playwright-core';
import { CHROMIUM_ARGS, engineExecutable } from '../env.ts';
import { drivenContext } from './driven-page.ts';
import type { Engine } from './types.ts';

/** Chromium's own report of a network failure (a 401, a refused socket): the browser's, not the page's. */
const NETWORK_REPORT = /Failed to load resource|WebSocket connection to/;

export async function launchChromium(): Promise<Engine> {
  const browser = await playwright.launch({ executablePath: engineExecutable('chromium')!, args: CHROMIUM_ARGS });
  return {
    name: 'chromium',
    newContext: async () =>
      drivenContext(await browser.newContext(), NETWORK_REPORT, (page) => ({
        fill: (selector, text) => page.fill(selector, text),
        screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
        cookies: (url) => page.context().cookies(url),
      })),
    close: () => browser.close(),
  };
}
