#!/usr/bin/env node
// Runs every suite (Node, msw and Playwright-in-Chromium tests alike) under Node's test runner and ends with the
// one line CI reads: `N passed, N failed, N skipped`. In CI (CI=true) a skipped test fails the run: a missing
// redis-server or Chromium must not pass quietly.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (/\.test\.(ts|mjs)$/.test(name)) out.push(relative(root, path));
  }
  return out;
}

// Node 20's --test does not expand globs: pass the files. Arguments narrow the run to matching paths.
const filters = process.argv.slice(2);
const files = findTests(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)));
const countsFile = join(mkdtempSync(join(tmpdir(), 'hs-test-')), 'counts.json');

const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-concurrency=2',
    // Per test file as well as per test: a browser file runs every engine in turn, minutes on a loaded machine.
    '--test-timeout=600000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/count-reporter.mjs', `--test-reporter-destination=${countsFile}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } },
);

let counts;
try {
  counts = JSON.parse(readFileSync(countsFile, 'utf8'));
} catch {
  counts = { passed: 0, failed: 1, skipped: 0 };
  console.error(`test runner ended without counts (exit ${result.status}, signal ${result.signal})`);
}
if (counts.failed === 0 && result.status !== 0) counts.failed = 1; // a crash outside any test still fails the run
const ci = process.env.CI === 'true' || process.env.CI === '1';
if (ci && counts.skipped > 0) console.error(`CI=true: ${counts.skipped} skipped test(s) count as a failure (install chromium and redis-server).`);
console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(counts.failed > 0 || (ci && counts.skipped > 0) ? 1 : 0);
