// The rotation soak of test/browser/rotation-soak.*.test.ts, shorter: three Chromium tabs keep one session busy
// while its 2.4 s tokens rotate, with reloads and a tab closed mid-renewal, with Web Locks and with
// `navigator.locks` removed. A count, not a time: rotations reached and false reuse detections (must be 0).
import { report, notRun, pick } from './lib/report.mjs';

const ID = 'client.rotation-soak-chromium';
const ROTATIONS = pick(40, 6);
const { noEngine } = await import('../test/helpers/env.ts');
const skip = noEngine('chromium');
if (skip) {
  notRun(ID, skip);
} else {
  const { launchEngine } = await import('../test/helpers/engines/index.ts');
  const { startPages, startApi } = await import('../test/helpers/browser.ts');
  const { runSoak } = await import('../test/helpers/rotation-soak.ts');
  const { TOKEN_LIFE, GRACE } = await import('../test/browser/rotation-soak.suite.ts');
  const pages = await startPages();
  const api = await startApi({ allowedOrigins: [pages.url], tokenMaxAge: TOKEN_LIFE, rotationGrace: GRACE });
  const engine = await launchEngine('chromium');
  try {
    const runs = {};
    for (const locks of [true, false]) runs[locks ? 'locks' : 'noLocks'] = await runSoak({ engine, pages, api, locks, rotations: ROTATIONS, deadline: 100_000, every: 5 });
    const line = (r) => `${r.rotations} rotations (${r.tokenPosts} token POSTs, ${r.reloads} reloads, ${r.closedMidRenewal} closed mid-renewal): ${r.reuseEvents} false reuse, ${r.sessions.length} session`;
    const falseReuse = runs.locks.reuseEvents + runs.noLocks.reuseEvents;
    const oneSession = runs.locks.sessions.length === 1 && runs.noLocks.sessions.length === 1;
    report({
      id: ID,
      value: falseReuse,
      met: falseReuse === 0 && oneSession,
      display: { ours: `Web Locks: ${line(runs.locks)} / no Web Locks: ${line(runs.noLocks)}` },
      extra: runs,
    });
  } catch (e) {
    notRun(ID, e.message.split('\n')[0]);
  } finally {
    await engine.close();
    await api.close();
    await pages.close();
  }
}
