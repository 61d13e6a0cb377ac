// Markdown tables (the same text goes to the terminal and, by hand, into README.md).
import { fmtBytes, fmtRatio, fmtStat, resultCell } from './verdict.mjs';

const esc = (s) => String(s ?? '—').replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(head, rows) {
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.map(esc).join(' | ')} |`);
  return lines.join('\n');
}

/** Rows must already have gone through decide(). */
export function printTables(rows) {
  const out = [];
  const size = rows.filter((r) => r.section === 'size');
  if (size.length) {
    const ours = size.find((r) => r.id === 'size.ours' && r.size);
    out.push('### Bundle size (min, then compressed; dependencies included)\n');
    out.push(
      table(
        ['bundle', 'min', 'min+gzip', 'min+brotli', 'ours ÷ it (gzip)', 'target', 'result'],
        size.map((r) =>
          r.notRun
            ? [r.figure, '—', '—', '—', '—', r.target?.text ?? '', resultCell(r)]
            : [
                r.figure,
                fmtBytes(r.size.min),
                fmtBytes(r.size.gzip),
                fmtBytes(r.size.brotli),
                ours && r.id.startsWith('size.') && r.anchor ? `${(ours.size.gzip / r.size.gzip).toFixed(2)}×` : '',
                r.target?.text ?? '',
                resultCell(r),
              ],
        ),
      ),
    );
  }
  const perf = rows.filter((r) => r.section !== 'size');
  if (perf.length) {
    out.push('\n### Speed and memory (median of runs after warm-up, [min–max])\n');
    out.push(
      table(
        ['figure', 'ours', 'compared with', 'baseline', 'ratio', 'target', 'result'],
        perf.map((r) => [
          r.figure,
          r.display?.ours ?? fmtStat(r.ours),
          r.against ?? '—',
          r.display?.baseline ?? fmtStat(r.baseline),
          r.display?.ratio ?? (r.ratio ? `${fmtRatio(r.ratio)}${r.ratioMeaning ? ` (${r.ratioMeaning})` : ''}` : '—'),
          r.target?.text ?? 'reported',
          resultCell(r) + (r.notes ? ` — ${r.notes}` : ''),
        ]),
      ),
    );
  }
  return out.join('\n');
}
