/**
 * The built browser outputs (npm test builds them first): the script-tag bundle within its min+gzip budget (device
 * binding included: the key, its proofs and their wiring cost about 930 bytes of it),
 * idb-keyval included (the reconnecting socket is our own, src/client/socket.ts), and no `require` or Node built-in in anything a browser loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
// @ts-expect-error -- a .mjs bench module without types
import { EXPECTED_ROWS } from '../../bench/lib/rows.mjs';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist');
const UMD = join(dist, 'hybrid-session.umd.min.js');
// The budget is written once, as the target of the bench's size.umd row: the test and bench/size.mjs cannot disagree.
const BUDGET: number = EXPECTED_ROWS.find((r: { id: string }) => r.id === 'size.umd')?.target?.value;

function read(path: string): string {
  assert.ok(existsSync(path), `${path} is missing: run \`npm run build\` first`);
  return readFileSync(path, 'utf8');
}

test(`the UMD bundle is at most ${BUDGET} bytes min+gzip, idb-keyval included`, () => {
  assert.ok(Number.isInteger(BUDGET) && BUDGET > 0, `bench/lib/rows.mjs: size.umd's target.value is the budget (got ${BUDGET})`);
  const code = read(UMD);
  const size = gzipSync(code, { level: 9 }).length;
  assert.ok(size <= BUDGET, `dist/hybrid-session.umd.min.js is ${size} bytes gzipped (budget ${BUDGET})`);
  // Bundled, not referenced: the page needs nothing else.
  assert.match(code, /indexedDB\.open/);
  assert.match(code, /\.HybridSession=/);
});

test('the UMD bundle has no require, no Node built-in, no debug logging', () => {
  const code = read(UMD);
  assert.doesNotMatch(code, /\brequire\s*\(/);
  assert.doesNotMatch(code, /["']node:/);
  assert.doesNotMatch(code, /\bprocess\.|\bBuffer\b/);
  assert.doesNotMatch(code, /console\./, 'nothing logged: a log line could carry the subprotocols, token included');
});

test('the ESM client imports only idb-keyval and its own chunks', () => {
  const bare = new Set<string>();
  const seen = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = read(file);
    assert.doesNotMatch(code, /\brequire\s*\(/, file);
    assert.doesNotMatch(code, /\bprocess\.|\bBuffer\b/, file);
    for (const [, spec] of code.matchAll(/(?:^|[;\n])\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  walk(join(dist, 'client/index.js'));
  assert.deepEqual([...bare].sort(), ['idb-keyval']);
  assert.ok(existsSync(join(dist, 'types/client/index.d.ts')), 'types are emitted');
});
