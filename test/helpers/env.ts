/**
 * What the real-parts tests need from the machine, and the one way they skip when it is missing: a `skip` reason
 * that names the package to install. scripts/run-tests.mjs turns any skip into a failure when CI=true.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

let chromiumCache: string | null | undefined;
/** Debian's chromium first (Playwright cannot download its own here), else Playwright's own if installed. */
export function chromiumExecutable(): string | null {
  if (chromiumCache !== undefined) return chromiumCache;
  chromiumCache = null;
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (existsSync(candidate)) return (chromiumCache = candidate);
  }
  return chromiumCache;
}

/** `false` when Chromium is present, else the skip reason (what to install). */
export const noChromium: string | false = chromiumExecutable()
  ? false
  : 'Chromium not found: install it with `apt-get install -y chromium` (Debian), or Playwright\'s own browser';

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** `false` when redis-server is present, else the skip reason. */
export const noRedis: string | false = which('redis-server')
  ? false
  : 'redis-server not found: install it with `apt-get install -y redis-server`';
