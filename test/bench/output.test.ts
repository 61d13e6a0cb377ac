// The bench's output shape (deterministic parts only: no timing is asserted here; speed belongs to npm run bench).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
// @ts-expect-error plain .mjs modules without types
import { compare } from '../../bench/lib/measure.mjs';
// @ts-expect-error -- a .mjs bench module without types
import { summarize, quantile } from '../../bench/lib/stats.mjs';
// @ts-expect-error -- a .mjs bench module without types
import { decide } from '../../bench/lib/verdict.mjs';
// @ts-expect-error -- a .mjs bench module without types
import { printTables } from '../../bench/lib/table.mjs';
// @ts-expect-error -- a .mjs bench module without types
import { renderSvg } from '../../bench/lib/svg.mjs';
// @ts-expect-error -- a .mjs bench module without types
import { EXPECTED_ROWS } from '../../bench/lib/rows.mjs';
// @ts-expect-error -- a .mjs bench module without types
import { countingStore } from '../../bench/lib/counting-store.mjs';

const meta = { date: '2026-01-01T00:00:00.000Z', cpu: 'Test CPU', cores: 2, node: 'v20.0.0' };
const stat = (median: number, unit = 'µs/op') => ({ median, min: median * 0.9, max: median * 1.1, q1: median, q3: median, runs: 5, unit, samples: [] });

describe('stats', () => {
  test('quantiles interpolate and the median of an even count is the midpoint', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    const s = summarize([5, 1, 3], 'x');
    assert.deepEqual([s.median, s.min, s.max, s.runs, s.unit], [3, 1, 5, 3, 'x']);
    assert.deepEqual(s.samples, [5, 1, 3]);
  });
});

describe('compare', () => {
  test('interleaves ABBA after warm-up and takes the ratio per pair', async () => {
    const order: string[] = [];
    let a = 0;
    let b = 0;
    const r = await compare(
      async () => (order.push('A'), [2, 4, 6, 8, 10][a++ % 5]!),
      async () => (order.push('B'), [1, 2, 3, 4, 5][b++ % 5]!),
      { sampled: true, warmup: 1, runs: 4 },
    );
    assert.equal(order.join(''), 'AB' + 'ABBAABBA');
    assert.equal(r.ratio.median, 2);
    assert.equal(r.ours.runs, 4);
  });

  test('speedup ratios are baseline over ours', async () => {
    const r = await compare(async () => 1, async () => 7, { sampled: true, warmup: 0, runs: 3, ratio: 'speedup' });
    assert.equal(r.ratio.median, 7);
  });
});

describe('verdicts', () => {
  test('a ratio is judged against its target, in the target\'s direction', () => {
    const le = { op: '<=', value: 1.1, text: '≤ 1.1×' };
    assert.equal(decide({ id: 'x', target: le, ratio: stat(1.05, '×') }).met, true);
    assert.equal(decide({ id: 'x', target: le, ratio: stat(1.2, '×') }).met, false);
    assert.equal(decide({ id: 'x', target: { op: '>=', value: 0.85 }, ratio: stat(0.9, '×') }).met, true);
    assert.equal(decide({ id: 'x', target: null, ratio: stat(3, '×') }).met, null);
  });

  test('an explicit verdict wins, and a row not run is neither met nor missed', () => {
    assert.equal(decide({ id: 'x', target: { op: '>=', value: 5 }, ratio: stat(9, '×'), met: false }).met, false);
    const r = decide({ id: 'x', notRun: 'no redis' });
    assert.equal(r.met, null);
    assert.match(r.summary, /not run: no redis/);
  });
});

describe('rows', () => {
  test('every expected row has a unique id and names a bench script that exists', () => {
    const ids = EXPECTED_ROWS.map((r: { id: string }) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const r of EXPECTED_ROWS as { script: string }[]) {
      assert.ok(existsSync(new URL(`../../bench/${r.script}`, import.meta.url)), r.script);
    }
  });
});

describe('table and SVG', () => {
  const rows = EXPECTED_ROWS.map((r: Record<string, unknown>) => {
    if (r.id === 'size.umd') return decide({ ...r, size: { min: 15000, gzip: 5600, brotli: 5000 }, met: true });
    if (r.id === 'size.phoenix') return decide({ ...r, anchor: true, size: { min: 24000, gzip: 7400, brotli: 6600 } });
    if (r.id === 'server.token-verify') return decide({ ...r, ours: stat(5000, 'ns/op'), baseline: stat(4000, 'ns/op'), ratio: stat(1.25, '×') });
    return decide({ ...r, notRun: `reason for ${r.id}` });
  });

  test('the table prints every row, with "not run: reason" for the missing ones', () => {
    const md = printTables(rows);
    for (const r of EXPECTED_ROWS as { figure: string; id: string }[]) {
      assert.ok(md.includes(r.figure.replace(/\|/g, '\\|')), r.id);
    }
    assert.match(md, /not run: reason for client\.fetch/);
    assert.match(md, /1\.25× \[1\.13–1\.38\]/);
    assert.match(md, /5\.47 KB/);
    // every table line has the header's column count
    for (const block of md.split('\n\n')) {
      const lines = block.split('\n').filter((l: string) => l.startsWith('|'));
      if (lines.length === 0) continue;
      const cols = (l: string) => l.replace(/\\\|/g, '').split('|').length;
      for (const l of lines) assert.equal(cols(l), cols(lines[0]!), l);
    }
  });

  test('the SVG is one self-contained document with the size bars and the ratios', () => {
    const svg = renderSvg(rows, meta);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.equal((svg.match(/<text /g) ?? []).length, (svg.match(/<\/text>/g) ?? []).length);
    assert.doesNotMatch(svg, /NaN|undefined|<script|href=/);
    assert.match(svg, /phoenix Socket/);
    assert.match(svg, /1\.25×/);
    assert.match(svg, /not run: reason for client\.fetch/);
  });
});

describe('counting store', () => {
  test('counts data calls and forwards them to the real store', async () => {
    const real = {
      data: new Map<string, unknown>(),
      get(sid: string, cb: (e: unknown, v?: unknown) => void) {
        cb(null, this.data.get(sid) ?? null);
      },
      set(sid: string, v: unknown, cb: () => void) {
        this.data.set(sid, v);
        cb();
      },
      on() {},
    };
    const c = countingStore(real);
    await new Promise<void>((r) => c.store.set('a', { n: 1 }, r));
    const v = await new Promise((r) => c.store.get('a', (_e: unknown, x: unknown) => r(x)));
    c.store.on('disconnect', () => {});
    assert.deepEqual(v, { n: 1 });
    assert.deepEqual({ ...c.calls }, { set: 1, get: 1 });
    assert.equal(c.total(), 2);
  });
});
