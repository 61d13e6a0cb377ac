// The chaos soak's figures (issue 11): test/attack/chaos.ts against hs.attach + Express and against the facade,
// each in its own process (test/attack/fixtures/target.ts, --expose-gc), CHAOS_SECONDS each (default 30),
// CHAOS_SEED to replay. Met when, for both servers, what chaos-soak.test.ts asserts held: the process lived, every
// good round trip succeeded, nothing was answered 5xx / 1011, descriptors and heap after gc came back.
import { randomInt } from 'node:crypto';
import { pick, report } from './lib/report.mjs';

const { startTarget } = await import('../test/attack/target-process.ts');
const { soak, problems, mib } = await import('../test/attack/chaos.ts');

const SECONDS = Number(process.env.CHAOS_SECONDS ?? pick(30, 3));
const SEED = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : randomInt(2 ** 31);

const results = [];
for (const mode of ['attach', 'facade']) {
  const t = await startTarget(mode);
  try {
    try {
      const r = await soak(t, mode, { seed: SEED, seconds: SECONDS, log: (line) => console.error(line) });
      results.push({ ...r, problems: problems(r) });
    } catch (err) {
      // Only a server that died (or stopped answering) during the set-up gets here.
      const none = { heap: NaN, fds: NaN, connections: NaN };
      results.push({ mode, seed: SEED, seconds: SECONDS, actions: {}, outcomes: {}, good: { http: 0, ws: 0, handshakes: 0, failures: [] }, chaosErrors: [], before: none, after: none, exited: t.exited(), problems: [`set-up failed: ${err.message}; exited: ${t.exited()}`] });
    }
  } finally {
    await t.stop();
  }
}

const sum = (o) => Object.values(o).reduce((s, n) => s + n, 0);
const one = (r) => {
  const rounds = r.good.http + r.good.ws + r.good.handshakes;
  return `${r.mode}: ${r.exited === null ? 'alive' : `EXITED (${r.exited})`}, ${rounds - r.good.failures.length}/${rounds} good round trips, ${sum(r.actions)} chaos actions; heap ${mib(r.before.heap)} → ${mib(r.after.heap)} MiB, fds ${r.before.fds} → ${r.after.fds}`;
};
report({
  id: 'attack.chaos-soak',
  met: results.every((r) => r.problems.length === 0),
  display: {
    ours: `${SECONDS} s each, seed ${SEED}. ${results.map(one).join('; ')}`,
    baseline: '—',
    ratio: '—',
    short: results.map((r) => `${r.mode} ${r.exited === null ? 'alive' : 'EXITED'}, fds ${r.before.fds}→${r.after.fds}, heap ${mib(r.before.heap)}→${mib(r.after.heap)} MiB`).join('; '),
  },
  notes: [
    ...results.map((r) => `${r.mode} actions ${Object.entries(r.actions).map(([k, n]) => `${k} ${n}`).join(', ')}`),
    ...results.flatMap((r) => r.problems.map((p) => `${r.mode}: ${p}`)),
  ].join('; '),
  extra: { seconds: SECONDS, seed: SEED, results },
});
