#!/usr/bin/env node
// bench/results/scale-sockets.svg: memory per open websocket against the number of sockets, ours and bare `ws`,
// heap and RSS, from the scale.sockets row of a results file (default bench/results/latest.json). Plain SVG 1.1,
// like svg.mjs, so GitHub renders it in README.md.
//
//   node bench/lib/scale-chart.mjs [results.json]      writes bench/results/scale-sockets.svg
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAtomic } from './results.mjs';
import { svgDocument, text } from './svg-doc.mjs';

const W = 820;
const PANEL_W = 360;
const PANEL_H = 220;
const PAD = { left: 58, top: 70, bottom: 46 };
const COLORS = { ours: '#2f7ed8', bare: '#9aa5b1', target: '#d2382f' };


function panel(ox, title, ours, bare, key, target) {
  const parts = [];
  const counts = ours.map((p) => p.sockets);
  const maxX = Math.max(...counts);
  const values = [...ours, ...bare].map((p) => p[key] / 1024);
  if (target) values.push(...bare.map((p) => (p[key] / 1024) * target));
  const maxY = Math.max(...values) * 1.15;
  const sx = (v) => ox + PAD.left + (v / maxX) * (PANEL_W - PAD.left - 10);
  const sy = (v) => PAD.top + PANEL_H - (v / maxY) * PANEL_H;
  parts.push(text(ox + PAD.left, PAD.top - 14, title, 'font-size="13" font-weight="bold"'));
  parts.push(`<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(maxX)}" y2="${sy(0)}" stroke="#333"/>`);
  parts.push(`<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(0)}" y2="${sy(maxY)}" stroke="#333"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY / 4) * i;
    parts.push(`<line x1="${sx(0) - 4}" y1="${sy(v).toFixed(1)}" x2="${sx(maxX)}" y2="${sy(v).toFixed(1)}" stroke="#eee"/>`);
    parts.push(text(sx(0) - 6, sy(v) + 4, `${v.toFixed(1)} KB`, 'font-size="10" text-anchor="end"'));
  }
  for (const c of counts) parts.push(text(sx(c), sy(0) + 16, c.toLocaleString('en-US'), 'font-size="10" text-anchor="middle"'));
  parts.push(text(sx(maxX / 2), sy(0) + 34, 'open sockets', 'font-size="11" text-anchor="middle"'));
  const line = (points, color, dash = '') => {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.sockets).toFixed(1)} ${sy(p.value).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    if (!dash) for (const p of points) parts.push(`<circle cx="${sx(p.sockets).toFixed(1)}" cy="${sy(p.value).toFixed(1)}" r="3.5" fill="${color}"/>`);
  };
  if (target) line(bare.map((p) => ({ sockets: p.sockets, value: (p[key] / 1024) * target })), COLORS.target, '4 3');
  line(bare.map((p) => ({ sockets: p.sockets, value: p[key] / 1024 })), COLORS.bare);
  line(ours.map((p) => ({ sockets: p.sockets, value: p[key] / 1024 })), COLORS.ours);
  for (const p of ours) parts.push(text(sx(p.sockets) + 5, sy(p[key] / 1024) - 7, `${(p[key] / 1024).toFixed(2)}`, `font-size="10" fill="${COLORS.ours}"`));
  for (const p of bare) parts.push(text(sx(p.sockets) + 5, sy(p[key] / 1024) + 14, `${(p[key] / 1024).toFixed(2)}`, `font-size="10" fill="#555"`));
  return parts;
}

/** `row`: the scale.sockets row (its `extra` holds the points); `meta`: { date, cpu, cores, node }. */
export function renderScaleChart(row, meta) {
  const { ours, baseline } = row.extra;
  const parts = [];
  parts.push(text(12, 26, 'hybrid-session — memory per open websocket after gc (server process, one session per socket)', 'font-size="15" font-weight="bold"'));
  parts.push(text(12, 44, `${meta.date.slice(0, 10)} · ${meta.cpu} ×${meta.cores} · Node ${meta.node} · heap ratio ${row.extra.heapRatios.map((r) => `${r.toFixed(2)}×`).join(' / ')}`, 'font-size="11" fill="#555"'));
  parts.push(...panel(0, 'heap per socket', ours, baseline, 'heapPerSocket', row.target?.value));
  parts.push(...panel(W / 2, 'RSS per socket', ours, baseline, 'rssPerSocket', null));
  const ly = PAD.top + PANEL_H + PAD.bottom + 6;
  const legend = [
    [COLORS.ours, '', 'hybrid-session (hs.attach)'],
    [COLORS.bare, '', 'bare ws, same server'],
    [COLORS.target, '4 3', `goal: ${row.target?.value ?? 1.3}× bare heap`],
  ];
  legend.forEach(([color, dash, label], i) => {
    const lx = 70 + i * 240;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    parts.push(text(lx + 30, ly + 4, label, 'font-size="11"'));
  });
  const H = ly + 18;
  return svgDocument(W, H, parts);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = join(fileURLToPath(new URL('..', import.meta.url)), 'results');
  const file = process.argv[2] ?? join(results, 'latest.json');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const row = data.rows.find((r) => r.id === 'scale.sockets');
  if (!row?.extra?.ours) {
    console.error(`${file} has no measured scale.sockets row`);
    process.exit(1);
  }
  writeAtomic(join(results, 'scale-sockets.svg'), renderScaleChart(row, data));
  console.log('wrote bench/results/scale-sockets.svg');
}
