// bench/results/latest.svg, written by hand: the size row against its anchors, then every ratio against its
// target (the document and text helpers are svg-doc.mjs).
import { fmt, fmtBytes } from './verdict.mjs';
import { svgDocument, text } from './svg-doc.mjs';
import { EXPECTED_ROWS } from './rows.mjs';

const W = 820;
const LABEL_W = 300;
const BAR_X = LABEL_W + 10;
const BAR_W = 330;
const ROW_H = 26;
const COLORS = { ours: '#2f7ed8', anchor: '#9aa5b1', met: '#2e9e48', missed: '#d2382f', reported: '#7a8794', target: '#222' };

const SHORT = {
  'size.umd': 'hybrid-session UMD (as shipped)',
  'size.ours': 'hybrid-session (anchors\' build)',
  'size.socket.io-client': 'socket.io-client',
  'size.phoenix': 'phoenix Socket',
  'size.supertokens-website': 'supertokens-website',
  'size.auth0-spa-js': '@auth0/auth0-spa-js',
  'server.bearer-request': 'bearer request vs express-session cookie',
  'server.token-verify': 'token verify vs raw HMAC + timingSafeEqual',
  'server.forged-rejection': 'forged rejection: × faster than valid (memory)',
  'server.forged-rejection-redis': 'forged rejection: × faster than valid (Redis)',
  'server.ws-handshake': 'ws handshakes/s: auth vs none',
  'server.ws-handshake-redis': 'ws handshakes/s: Redis vs memory',
  'server.bearer-request-redis': 'bearer request: Redis vs memory',
  'server.memory': 'memory: 100k sessions, then 1M forged',
  'client.fetch': 'session.fetch vs fetch + header',
  'client.storage-reads': 'storage reads per session.fetch',
  'scale-out.redis': 'Redis scale-out (issue 6)',
  'scale.sockets': 'heap per open socket vs bare ws',
  'scale.heartbeat': 'heartbeat CPU/interval vs bare ws loop',
  'client.ready-indexeddb': 'ready() vs idb-keyval get',
  'client.ready-localstorage': 'ready() vs localStorage.getItem',
  'attack.token-flood': 'token flood, MemoryStore({ max: 1000 })',
  'attack.token-flood-redis': 'token flood on Redis',
  'attack.chaos-soak': 'chaos soak (attach, facade)',
};


/** Rows must already have gone through decide(); meta: { date, cpu, node }. */
export function renderSvg(rows, meta) {
  const parts = [];
  let y = 28;
  parts.push(text(12, y, `hybrid-session — npm run bench`, 'font-size="16" font-weight="bold"'));
  const load = meta.loadAverage ? ` · load ${meta.loadAverage.map((l) => l.toFixed(1)).join(' / ')}` : '';
  parts.push(text(W - 12, y, `${meta.date.slice(0, 10)} · ${meta.cpu} ×${meta.cores} · Node ${meta.node}${load}`, 'font-size="11" text-anchor="end" fill="#555"'));
  y += 30;

  // Panel 1: size.
  const sizes = rows.filter((r) => r.section === 'size' && r.size && (r.id === 'size.umd' || r.id === 'size.ours' || r.anchor));
  if (sizes.length) {
    parts.push(text(12, y, 'Bundle size, min+gzip (dependencies included; shorter is better)', 'font-size="13" font-weight="bold"'));
    y += 12;
    // run.mjs's rows carry their target; a list without it is drawn against rows.mjs's, the one place the budget is written.
    const target = (list) => list.find((r) => r.id === 'size.umd')?.target?.value;
    const limit = target(rows) ?? target(EXPECTED_ROWS);
    const max = Math.max(limit, ...sizes.map((r) => r.size.gzip)) * 1.05;
    const sx = (v) => BAR_X + (v / max) * BAR_W;
    const top = y;
    for (const r of sizes) {
      const ours = !r.anchor;
      parts.push(text(LABEL_W, y + 17, SHORT[r.id] ?? r.figure, 'font-size="12" text-anchor="end"'));
      parts.push(`<rect x="${BAR_X}" y="${y + 5}" width="${Math.max(1, sx(r.size.gzip) - BAR_X).toFixed(1)}" height="${ROW_H - 10}" fill="${ours ? COLORS.ours : COLORS.anchor}"/>`);
      parts.push(text(sx(r.size.gzip) + 6, y + 17, fmtBytes(r.size.gzip), 'font-size="11"'));
      y += ROW_H;
    }
    parts.push(`<line x1="${sx(limit).toFixed(1)}" y1="${top}" x2="${sx(limit).toFixed(1)}" y2="${y}" stroke="${COLORS.target}" stroke-dasharray="4 3"/>`);
    parts.push(text(sx(limit), y + 12, `target ${fmtBytes(limit)}`, 'font-size="10" text-anchor="middle"'));
    y += 34;
  }

  // Panel 2: ratios, each on its own axis from 0 (the numbers differ by orders of magnitude).
  const perf = rows.filter((r) => r.section !== 'size');
  if (perf.length) {
    parts.push(text(12, y, 'Ratios: median bar, min–max whisker, dashed line = target, light line = 1×', 'font-size="13" font-weight="bold"'));
    parts.push(text(W - 12, y, 'green met · red missed · grey reported', 'font-size="11" text-anchor="end" fill="#555"'));
    y += 12;
    for (const r of perf) {
      const label = SHORT[r.id] ?? r.figure.replace(/`/g, '');
      parts.push(text(LABEL_W, y + 17, label.length > 48 ? label.slice(0, 46) + '…' : label, 'font-size="12" text-anchor="end"'));
      if (r.notRun || !r.ratio) {
        const verdict = r.met === true ? ' ✓' : r.met === false ? ' ✗' : '';
        const msg = r.notRun ? `not run: ${r.notRun}` : `${r.display?.short ?? r.display?.ours ?? ''}${verdict}`;
        const color = r.notRun ? '#999' : r.met === false ? COLORS.missed : r.met === true ? COLORS.met : '#333';
        parts.push(text(BAR_X, y + 17, msg.length > 80 ? msg.slice(0, 78) + '…' : msg, `font-size="11" fill="${color}"`));
        y += ROW_H;
        continue;
      }
      const t = r.target && (r.target.op === '<=' || r.target.op === '>=') ? r.target.value : null;
      // The axis fits the median and the target; a whisker beyond it is clipped with an arrow (noisy runs would
      // otherwise squash every bar into the first pixels).
      const max = Math.max(r.ratio.median, t ?? 0, 1) * 1.6;
      const sx = (v) => BAR_X + (Math.min(Math.max(0, v), max) / max) * BAR_W;
      const color = r.met === true ? COLORS.met : r.met === false ? COLORS.missed : COLORS.reported;
      const mid = y + ROW_H / 2;
      parts.push(`<line x1="${BAR_X}" y1="${y + 3}" x2="${BAR_X}" y2="${y + ROW_H - 3}" stroke="#bbb"/>`);
      parts.push(`<line x1="${sx(1).toFixed(1)}" y1="${y + 3}" x2="${sx(1).toFixed(1)}" y2="${y + ROW_H - 3}" stroke="#ddd"/>`);
      parts.push(`<rect x="${BAR_X}" y="${y + 7}" width="${Math.max(1, sx(r.ratio.median) - BAR_X).toFixed(1)}" height="${ROW_H - 14}" fill="${color}"/>`);
      parts.push(`<line x1="${sx(r.ratio.min).toFixed(1)}" y1="${mid}" x2="${sx(r.ratio.max).toFixed(1)}" y2="${mid}" stroke="#333"/>`);
      parts.push(`<line x1="${sx(r.ratio.min).toFixed(1)}" y1="${y + 9}" x2="${sx(r.ratio.min).toFixed(1)}" y2="${y + ROW_H - 9}" stroke="#333"/>`);
      if (r.ratio.max > max) {
        const e = BAR_X + BAR_W;
        parts.push(`<path d="M${e - 6} ${mid - 4} L${e} ${mid} L${e - 6} ${mid + 4}" fill="none" stroke="#333"/>`);
      } else {
        parts.push(`<line x1="${sx(r.ratio.max).toFixed(1)}" y1="${y + 9}" x2="${sx(r.ratio.max).toFixed(1)}" y2="${y + ROW_H - 9}" stroke="#333"/>`);
      }
      if (t !== null) parts.push(`<line x1="${sx(t).toFixed(1)}" y1="${y + 1}" x2="${sx(t).toFixed(1)}" y2="${y + ROW_H - 1}" stroke="${COLORS.target}" stroke-width="2" stroke-dasharray="3 2"/>`);
      const goal = t !== null ? `  target ${r.target.op === '<=' ? '≤' : '≥'} ${t}×` : '  reported';
      parts.push(text(BAR_X + BAR_W + 12, y + 17, `${fmt(r.ratio.median)}×${goal}`, `font-size="11" fill="${r.met === false ? COLORS.missed : '#222'}"`));
      y += ROW_H;
    }
    y += 10;
  }

  const H = y + 8;
  return svgDocument(W, H, parts);
}
