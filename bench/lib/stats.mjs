// Order statistics for bench samples. Medians and quartiles, never means: one GC pause or a neighbour's burst on a
// shared machine moves a mean a lot and a median hardly at all.

/** Linear-interpolated quantile of an ascending array (q in 0..1). */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** { median, min, max, q1, q3, runs, samples } of raw samples (samples kept in measurement order). */
export function summarize(samples, unit) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
    runs: samples.length,
    ...(unit ? { unit } : {}),
    samples,
  };
}
