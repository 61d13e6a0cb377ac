/** Chromium through Playwright, launched from Debian's /usr/bin/chromium (Playwright cannot download its own here). */
import { chromium as playwright } from 'playwright-core';
import { CHROMIUM_ARGS, engineExecutable } from '../env.ts';
import { drivenContext } from './driven-page.ts';
import type { Engine } from './types.ts';

/**
 * Chromium's own report of a network failure (a 401, a refused socket): the browser's, not the page's. Only the
 * shapes it prints, from the start of the text, so a page's own error that merely mentions these words still fails:
 * `Failed to load resource: the server responded with a status of 401 (Unauthorized)`,
 * `Failed to load resource: net::ERR_CONNECTION_REFUSED`,
 * `WebSocket connection to 'ws://127.0.0.1:8080/ws' failed: Error in connection establishment: net::ERR_…`.
 */
const NETWORK_REPORT =
  /^(?:Failed to load resource: (?:the server responded with a status of \d{3} \(|net::ERR_[A-Z_]+$)|WebSocket connection to 'wss?:\/\/[^']*' failed(?:: |$))/;

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
