/**
 * Statistics for benchmark runs. Pure: the unit tests in
 * test/unit/bench-stats.test.ts cover them (and nothing about timing).
 */

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

function finite(values: readonly number[], what: string): number[] {
  const xs = values.filter((v) => Number.isFinite(v));
  if (xs.length === 0) throw new Error(`${what} of no finite values`);
  return xs;
}

/** The middle value; the mean of the two middle values for an even count. NaN and infinities are left out. */
export function median(values: readonly number[]): number {
  const xs = finite(values, 'median').sort((a, b) => a - b);
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

export function min(values: readonly number[]): number {
  return finite(values, 'min').reduce((a, b) => (b < a ? b : a));
}

export function max(values: readonly number[]): number {
  return finite(values, 'max').reduce((a, b) => (b > a ? b : a));
}

/**
 * Nearest-rank percentile (p in (0, 100]): the smallest value with at least
 * p% of the values at or below it. p99 of 50 values is the largest one; p50
 * of an even count is the lower middle value.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is not in (0, 100]`);
  const xs = finite(values, 'percentile').sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * xs.length);
  return xs[Math.max(0, rank - 1)]!;
}

/** Percentile of a sorted array, without copying (for large latency samples). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}

export function summarize(values: readonly number[]): Summary {
  return { median: median(values), min: min(values), max: max(values), n: values.filter((v) => Number.isFinite(v)).length };
}

/** Per-run ratios of a figure to the limit measured in the same run (runs paired by index). */
export function pairedRatios(figure: readonly number[], limit: readonly number[]): number[] {
  if (figure.length !== limit.length) throw new Error(`cannot pair ${figure.length} runs with ${limit.length}`);
  return figure.map((f, i) => f / limit[i]!);
}
