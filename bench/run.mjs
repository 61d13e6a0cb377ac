#!/usr/bin/env node
// `npm run bench`: every bench script in its own Node process (a crash, a leak or --expose-gc stays local), then one
// markdown table, bench/results/latest.json and bench/results/latest.svg. A row nobody reported is printed as
// "not run: <reason>" instead of vanishing.
//
//   node bench/run.mjs                 everything (after `npm run build`)
//   node bench/run.mjs token size      only scripts whose name contains one of the words
//   BENCH_QUICK=1 node bench/run.mjs   tiny loops: checks the bench runs, figures meaningless, results not written
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPECTED_ROWS, SCRIPTS } from './lib/rows.mjs';
import { decide } from './lib/verdict.mjs';
import { printTables } from './lib/table.mjs';
import { renderSvg } from './lib/svg.mjs';
import { renderScaleChart } from './lib/scale-chart.mjs';
import { machine, toJson, writeAtomic } from './lib/results.mjs';

const benchDir = new URL('.', import.meta.url).pathname;
const root = join(benchDir, '..');
const filters = process.argv.slice(2);
const quick = process.env.BENCH_QUICK === '1';
// Per script; the whole run must stay under ~10 minutes on 2 cores.
const TIMEOUT_MS = Number(process.env.BENCH_SCRIPT_TIMEOUT_MS ?? 240_000);

const discovered = readdirSync(benchDir).filter((f) => /\.benchmark\.(mjs|ts)$/.test(f) || f === 'scale-out.mjs');
const scripts = [...new Set([...SCRIPTS, ...discovered.sort()])].filter((s) => filters.length === 0 || filters.some((f) => s.includes(f)));

const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), 'hs-bench-'));
const rows = [];
const failures = new Map();

if (!existsSync(join(root, 'dist'))) console.error('dist/ is missing: run `npm run build` first (npm run bench does).');

for (const script of scripts) {
  const path = join(benchDir, script);
  if (!existsSync(path)) {
    failures.set(script, `bench/${script} not present yet`);
    continue;
  }
  const out = join(tmp, `${script}.jsonl`);
  console.error(`\n▶ ${script}`);
  const t0 = Date.now();
  const { code, signal, tail, timedOut } = await runScript(path, out);
  const got = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  rows.push(...got);
  console.error(`  (${((Date.now() - t0) / 1000).toFixed(1)} s${code ? `, exit ${code}` : ''}${signal ? `, ${signal}` : ''})`);
  if (timedOut) failures.set(script, `bench/${script} timed out after ${TIMEOUT_MS / 1000} s`);
  else if (code !== 0) failures.set(script, `bench/${script} failed (${signal ?? `exit ${code}`}): ${tail || 'no output'}`);
}

function runScript(path, out) {
  return new Promise((resolve) => {
    const args = ['--expose-gc', '--import', 'tsx', path];
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, BENCH_ROWS: out },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let tail = '';
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      tail = (tail + d.toString()).slice(-2000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000).unref();
    }, TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lastLine = tail.trim().split('\n').filter((l) => !l.startsWith('  ')).pop() ?? '';
      resolve({ code, signal, timedOut, tail: lastLine.slice(0, 200) });
    });
  });
}

// Expected rows in their order (filled from what the scripts reported), then anything extra a script reported.
const byId = new Map(rows.map((r) => [r.id, r]));
const ran = (r) => scripts.includes(r.script);
const final = [];
for (const exp of EXPECTED_ROWS) {
  if (filters.length && !ran(exp)) continue;
  const got = byId.get(exp.id);
  if (got) final.push(decide({ ...exp, ...got }));
  else final.push(decide({ ...exp, notRun: failures.get(exp.script) ?? `bench/${exp.script} did not report it` }));
  byId.delete(exp.id);
}
for (const r of byId.values()) final.push(decide(r));

const durationSec = Math.round((Date.now() - started) / 1000);
const meta = machine();
console.log(
  `\n## hybrid-session bench — ${meta.date.slice(0, 10)}, ${meta.cpu} ×${meta.cores}, Node ${meta.node}, load average ${meta.loadAverage.map((l) => l.toFixed(1)).join(' / ')}\n`,
);
console.log(printTables(final));
console.log(`\n(${durationSec} s${quick ? ', BENCH_QUICK: figures not meaningful, results not written' : ''})`);

if (!quick && filters.length === 0) {
  writeAtomic(join(benchDir, 'results', 'latest.json'), toJson(meta, final, durationSec));
  writeAtomic(join(benchDir, 'results', 'latest.svg'), renderSvg(final, meta));
  console.log('wrote bench/results/latest.json and bench/results/latest.svg');
  // The memory-per-socket chart is drawn from the same run, so it never shows other figures than latest.json.
  const sockets = final.find((r) => r.id === 'scale.sockets');
  if (sockets?.extra?.ours) {
    writeAtomic(join(benchDir, 'results', 'scale-sockets.svg'), renderScaleChart(sockets, meta));
    console.log('wrote bench/results/scale-sockets.svg');
  }
} else if (!quick) {
  // A partial run must not overwrite the committed full run.
  writeAtomic(join(benchDir, 'results', 'partial.tmp.json'), toJson(meta, final, durationSec));
  writeAtomic(join(benchDir, 'results', 'partial.tmp.svg'), renderSvg(final, meta));
  console.log('partial run: wrote bench/results/partial.tmp.json and partial.tmp.svg (not committed)');
}
rmSync(tmp, { recursive: true, force: true });
const count = (f) => final.filter(f).length;
console.log(
  `${count((r) => r.met === true)} met, ${count((r) => r.met === false)} missed, ${count((r) => r.met === null && !r.notRun)} reported, ${count((r) => r.notRun)} not run`,
);
