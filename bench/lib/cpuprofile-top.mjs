#!/usr/bin/env node
// Top self-time frames of a V8 .cpuprofile, each with its commonest callers:
//   node bench/lib/cpuprofile-top.mjs file.cpuprofile [count] [caller depth]
import { readFileSync } from 'node:fs';

const [file, count = '25', depth = '0'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (node) => {
  const f = node.callFrame;
  return `${f.functionName || '(anonymous)'}${f.url ? ' ' + f.url.replace(/^.*\/(node_modules\/|src\/|dist\/)/, '$1') + ':' + (f.lineNumber + 1) : ''}`;
};
const self = new Map();
const callers = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const key = name(node);
  const us = dt[i + 1] ?? 0; // a sample's delta is the time until the next one
  self.set(key, (self.get(key) ?? 0) + us);
  if (Number(depth) > 0) {
    const chain = [];
    for (let p = parent.get(node.id), d = 0; p !== undefined && d < Number(depth); p = parent.get(p), d++) chain.push(name(byId.get(p)));
    const m = callers.get(key) ?? new Map();
    const c = chain.join(' < ');
    m.set(c, (m.get(c) ?? 0) + us);
    callers.set(key, m);
  }
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = self.get('(idle)') ?? 0;
console.log(`${file}: sampled ${(total / 1000).toFixed(0)} ms, busy ${((total - idle) / 1000).toFixed(0)} ms`);
for (const [k, us] of [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / (total - idle)).toFixed(1).padStart(5)}%  ${k}`);
  if (callers.has(k)) {
    for (const [c, cu] of [...callers.get(k)].sort((a, b) => b[1] - a[1]).slice(0, 2)) console.log(`${''.padStart(20)}${(cu / 1000).toFixed(1)} ms < ${c}`);
  }
}
