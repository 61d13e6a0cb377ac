/**
 * Firefox ESR over WebDriver BiDi: `firefox-esr --headless --remote-debugging-port=0` on a fresh profile, started
 * here and stopped by its pid, and puppeteer-core 24 connected to the BiDi endpoint it prints.
 *
 * The profile sets only what keeps a test browser quiet (no first-run pages, updates or telemetry): nothing that
 * changes what a page may do, so CORS, cookies and file:// behave as in a user's Firefox. (Puppeteer's own launcher
 * also relaxes security.fileuri.strict_origin_policy, which would change the file:// results.)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { engineExecutable } from '../env.ts';
import { stopProcess } from './xvfb.ts';
import { drivenContext } from './driven-page.ts';
import type { Engine } from './types.ts';

const PREFS: Record<string, string | number | boolean> = {
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.startup.page': 0,
  'app.update.disabledForTesting': true,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'extensions.update.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  // Puppeteer's input needs one content process (its own launcher sets this too).
  'fission.webContentIsolationStrategy': 0,
};

/**
 * Firefox's own reports, which WebDriver BiDi hands over as page errors: a cookie it refused (the API's session
 * cookie on a cross-site response, on purpose here), a socket or request the network refused. The browser's,
 * not the page's, like Chromium's "Failed to load resource".
 */
const BROWSER_REPORT = /^Cookie “[^”]*” has been rejected|^Firefox can’t establish a connection|^Cross-Origin Request Blocked/;

export async function launchFirefox(): Promise<Engine> {
  const profile = await mkdtemp(join(tmpdir(), 'hs-firefox-'));
  await writeFile(join(profile, 'user.js'), Object.entries(PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''));
  const child = spawn(engineExecutable('firefox')!, ['--headless', '--no-remote', '--remote-debugging-port=0', '--profile', profile, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (b) => {
      err += b;
      const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`firefox-esr exited (${code}) before listening:\n${err}`)));
  });
  const browser = await puppeteer.connect({ browserWSEndpoint: `${endpoint}/session`, protocol: 'webDriverBiDi' });
  return {
    name: 'firefox',
    newContext: async () =>
      drivenContext(await browser.createBrowserContext(), BROWSER_REPORT, (page) => ({
        fill: (selector, text) => page.locator(selector).fill(text),
        screenshot: async (path) => void (await page.screenshot({ path: path as `${string}.png`, fullPage: true })),
        cookies: async (url) => (await page.cookies(url)).map((c) => ({ name: c.name, httpOnly: c.httpOnly === true })),
      })),
    async close() {
      await browser.close().catch(() => undefined);
      await stopProcess(child);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
