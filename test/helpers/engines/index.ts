/** One entry for the suites: launch an engine by name; each lives in its own file. */
import { launchChromium } from './chromium.ts';
import { launchFirefox } from './firefox.ts';
import { launchWebKit } from './webkit.ts';
import type { Engine, EngineName } from './types.ts';

export * from './types.ts';

const LAUNCH: Record<EngineName, () => Promise<Engine>> = { chromium: launchChromium, webkit: launchWebKit, firefox: launchFirefox };

export function launchEngine(name: EngineName): Promise<Engine> {
  return LAUNCH[name]();
}
