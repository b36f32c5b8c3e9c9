// Small numeric helpers shared by the benchmark sections: percentiles over raw samples, rounding for reports.

export interface Summary {
  n: number;
  p50: number | null;
  p99: number | null;
  mean: number | null;
  min: number | null;
  max: number | null;
}

/** Nearest-rank percentile (p in 0..100); null for no samples. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? null;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function roundOrNull(x: number | null | undefined, digits = 1): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : round(x, digits);
}

export function summarize(samples: readonly number[], digits = 1): Summary {
  const xs = samples.filter((x) => Number.isFinite(x));
  if (xs.length === 0) return { n: 0, p50: null, p99: null, mean: null, min: null, max: null };
  return {
    n: xs.length,
    p50: roundOrNull(percentile(xs, 50), digits),
    p99: roundOrNull(percentile(xs, 99), digits),
    mean: round(xs.reduce((s, x) => s + x, 0) / xs.length, digits),
    min: round(Math.min(...xs), digits),
    max: round(Math.max(...xs), digits),
  };
}

/** a ÷ b rounded, or null when either side is missing or b is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined, digits = 2): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) {
    return null;
  }
  return b === 0 ? null : round(a / b, digits);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
