// The two ways every figure is taken: `measure` (one thing, median of several runs after warm-up) and `compare`
// (ours and a baseline in the same run, interleaved, so a noisy neighbour or a CPU clock change hits both sides).
import { performance } from 'node:perf_hooks';
import { summarize } from './stats.mjs';

/**
 * Time `fn` (sync or async) `runs` times after `warmup` untimed calls.
 * `ops`: how many operations one call performs, so samples are per operation.
 * `scale`: multiply per-op milliseconds (1000 → µs, 1e6 → ns). `unit` only labels the result.
 * `sample`: a custom sampler `async () => number` replacing the timer (e.g. a batch that times itself).
 */
export async function measure(fn, { warmup = 3, runs = 9, ops = 1, scale = 1000, unit = 'µs/op', sample, clock } = {}) {
  const take = sample ?? (() => timeOnce(fn, ops, scale, clock));
  for (let i = 0; i < warmup; i++) await take();
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await take());
  return summarize(samples, unit);
}

/**
 * `clock: 'cpu'` times with this process's CPU time (user + system) instead of the wall clock: on a shared machine
 * another process's burst stretches wall time but not ours, so in-process hot paths keep a tight spread.
 */
async function timeOnce(fn, ops, scale, clock = 'wall') {
  if (clock === 'cpu') {
    const c0 = process.cpuUsage();
    const r = fn();
    if (r && typeof r.then === 'function') await r;
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) / 1000 / ops) * scale;
  }
  const t0 = performance.now();
  const r = fn();
  if (r && typeof r.then === 'function') await r;
  return ((performance.now() - t0) / ops) * scale;
}

/**
 * Ours against a baseline, interleaved ABBA (ours, base, base, ours, …) so neither side always runs first or
 * always right after a GC of the other. Each pair gives one ratio; the ratio's median and spread are taken over
 * pairs, not divided out of two medians, so drift between pairs cancels inside each pair.
 *
 * `ours` and `baseline` are either functions (timed like `measure`) or samplers when `sampled: true`
 * (`async () => value`, the value already being the figure, e.g. ms per op or ops/s).
 * `ratio`: 'time' → ours / baseline (lower is better); 'rate' → ours / baseline of a rate (higher is better);
 * 'speedup' → baseline / ours (how many times faster ours is).
 */
export async function compare(ours, baseline, { warmup = 2, runs = 9, ops = 1, scale = 1000, unit = 'µs/op', sampled = false, ratio = 'time', clock } = {}) {
  const takeOurs = sampled ? ours : () => timeOnce(ours, ops, scale, clock);
  const takeBase = sampled ? baseline : () => timeOnce(baseline, ops, scale, clock);
  for (let i = 0; i < warmup; i++) {
    await takeOurs();
    await takeBase();
  }
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      a.push(await takeOurs());
      b.push(await takeBase());
    } else {
      b.push(await takeBase());
      a.push(await takeOurs());
    }
  }
  const ratios = a.map((x, i) => (ratio === 'speedup' ? b[i] / x : x / b[i]));
  return { ours: summarize(a, unit), baseline: summarize(b, unit), ratio: summarize(ratios, '×') };
}

/** Run `fn` until `ms` has passed, for warm-ups measured in time rather than calls. */
export async function warmFor(fn, ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) await fn();
}
