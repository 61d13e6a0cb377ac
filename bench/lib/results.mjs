// bench/results/latest.json: the same figures as the table, with the machine they came from.
import { execFileSync } from 'node:child_process';
import { writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';

export function machine() {
  const cpus = os.cpus();
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {}
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemoryMB: Math.round(os.totalmem() / 2 ** 20),
    // 1, 5 and 15 minute load averages when the run ended: a busy machine explains wide spreads.
    loadAverage: os.loadavg(),
    commit,
  };
}

/** Write then rename, so an interrupted run never leaves half a file to be committed. */
export function writeAtomic(path, text) {
  const tmp = path.replace(/\.(\w+)$/, '.tmp.$1');
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Samples stay in the JSON (they are how a later run is compared with this one), rounded to keep diffs small. */
export function toJson(meta, rows, durationSec) {
  const round = (k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v);
  return JSON.stringify({ ...meta, durationSec, rows }, round, 2) + '\n';
}
