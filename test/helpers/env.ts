/**
 * What the real-parts tests need from the machine, and the one way they skip when it is missing: a `skip` reason
 * that names the package to install. scripts/run-tests.mjs turns any skip into a failure when CI=true.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { EngineName } from './engines/types.ts';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Where each engine's binaries are looked for: Debian's packages (.ci/run installs them). */
const CANDIDATES = {
  // Debian's chromium first (Playwright cannot download its own here).
  chromium: ['/usr/bin/chromium', '/usr/bin/chromium-browser'],
  webkit: ['/usr/bin/WebKitWebDriver'],
  firefox: ['/usr/bin/firefox-esr', '/usr/bin/firefox'],
  xvfb: ['/usr/bin/Xvfb'],
} as const;

/** The browser WebKitWebDriver drives (package webkit2gtk-driver pulls in libwebkit2gtk-4.1, which ships it). */
export const WEBKIT_MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

export function engineExecutable(name: keyof typeof CANDIDATES): string | null {
  return CANDIDATES[name].find((c) => existsSync(c)) ?? null;
}

/** Kept for the suites that run in Chromium only. */
export function chromiumExecutable(): string | null {
  return engineExecutable('chromium');
}

const INSTALL: Record<EngineName, string> = {
  chromium: 'Chromium not found: install it with `apt-get install -y chromium` (Debian)',
  webkit: 'WebKitGTK not found: install it with `apt-get install -y webkit2gtk-driver xvfb` (WebKitWebDriver, MiniBrowser, Xvfb)',
  firefox: 'Firefox not found: install it with `apt-get install -y firefox-esr`',
};

/** `false` when the engine can run here, else the skip reason (what to install). */
export function noEngine(name: EngineName): string | false {
  const present =
    name === 'webkit'
      ? engineExecutable('webkit') && engineExecutable('xvfb') && existsSync(WEBKIT_MINIBROWSER)
      : engineExecutable(name);
  return present ? false : INSTALL[name];
}

/** `false` when Chromium is present, else the skip reason (what to install). */
export const noChromium: string | false = noEngine('chromium');

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** `false` when redis-server is present, else the skip reason. */
export const noRedis: string | false = which('redis-server')
  ? false
  : 'redis-server not found: install it with `apt-get install -y redis-server`';
