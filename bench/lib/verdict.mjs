// One place that turns a row's figures into met / missed / reported, so the table, JSON and SVG agree.

/** 3 significant digits, thousands separated; integers above 1000 kept whole. */
export function fmt(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  if (abs === 0) return '0';
  return n.toPrecision(3);
}

/** "41.2 µs/op [39.8–44.0]": median, then min–max. */
export function fmtStat(s) {
  if (!s) return '—';
  const unit = s.unit ? ` ${s.unit}` : '';
  if (s.runs === 1 || s.min === s.max) return `${fmt(s.median)}${unit}`;
  return `${fmt(s.median)}${unit} [${fmt(s.min)}–${fmt(s.max)}]`;
}

export function fmtRatio(s) {
  if (!s) return '—';
  return `${fmt(s.median)}× [${fmt(s.min)}–${fmt(s.max)}]`;
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '—';
  return n >= 1024 ? `${(n / 1024).toFixed(2)} KB` : `${n} B`;
}

/** The row with `met` (true | false | null for "reported") and a one-line `summary`. */
export function decide(row) {
  if (row.notRun) return { ...row, met: null, summary: `not run: ${row.notRun}` };
  let met = row.met;
  if (met === undefined) {
    const t = row.target;
    if (t && row.ratio && (t.op === '<=' || t.op === '>=')) {
      met = t.op === '<=' ? row.ratio.median <= t.value : row.ratio.median >= t.value;
    } else {
      met = null;
    }
  }
  let summary;
  if (row.size) summary = `${fmtBytes(row.size.gzip)} gzip, ${fmtBytes(row.size.brotli)} brotli`;
  else if (row.ratio) summary = `${fmtStat(row.ours)} vs ${fmtStat(row.baseline)} → ${fmtRatio(row.ratio)}`;
  else summary = row.display?.ours ?? (row.value !== undefined ? fmt(row.value) : '');
  if (met === true) summary += ' — met';
  if (met === false) summary += ' — MISSED';
  return { ...row, met, summary };
}

export function resultCell(row) {
  if (row.notRun) return `not run: ${row.notRun}`;
  if (row.met === true) return '✅ met';
  if (row.met === false) return '❌ missed';
  return 'reported';
}
