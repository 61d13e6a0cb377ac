// How a bench script hands rows to run.mjs: one JSON line per row into $BENCH_ROWS. Run alone
// (`node bench/token.benchmark.mjs`), a script prints its own rows as a table instead.
import { appendFileSync } from 'node:fs';
import { EXPECTED_ROWS } from './rows.mjs';
import { decide } from './verdict.mjs';
import { printTables } from './table.mjs';

const standalone = [];
let hooked = false;

/**
 * Report one row. `row.id` names a row of rows.mjs (its figure, baseline and target are filled in from there).
 * Fields: ours / baseline / ratio (summaries from measure/compare), size ({min,gzip,brotli}), value, met
 * (override the verdict), notes, extra (anything else worth keeping in the JSON), notRun (reason).
 */
export function report(row) {
  const full = { ...EXPECTED_ROWS.find((r) => r.id === row.id), ...row };
  if (process.env.BENCH_ROWS) {
    appendFileSync(process.env.BENCH_ROWS, JSON.stringify(full) + '\n');
  } else {
    standalone.push(full);
    if (!hooked) {
      hooked = true;
      process.on('beforeExit', () => {
        if (standalone.length) console.log('\n' + printTables(standalone.map(decide)));
        standalone.length = 0;
      });
    }
  }
  const verdict = decide(full);
  const label = verdict.notRun ? `not run: ${verdict.notRun}` : verdict.summary;
  console.error(`  ${row.id}: ${label}`);
}

/** A row that could not be measured, with the reason the table will show. */
export function notRun(id, reason) {
  report({ id, notRun: reason });
}

/** BENCH_QUICK=1 shrinks every loop (CI smoke test of the bench's shape); figures are then not meaningful. */
export const QUICK = process.env.BENCH_QUICK === '1';
export const pick = (full, quick) => (QUICK ? quick : full);
