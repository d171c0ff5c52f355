// Live-memory curves from per-bin allocation and collection counts.

/** live[b] = Σ_{i<=b} (alloc[i] - collect[i]), for bins 0..n-1. */
export function liveCurve(alloc: Float64Array, collect: Float64Array, n: number): number[] {
  const out: number[] = new Array<number>(n);
  let live = 0;
  for (let b = 0; b < n; b++) {
    live += (alloc[b] ?? 0) - (collect[b] ?? 0);
    out[b] = live;
  }
  return out;
}

/** Least-squares slope of y over x = 0..n-1 (per bin). */
export function slope(y: readonly number[], from = 0): number {
  const n = y.length - from;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const v = y[from + i] ?? 0;
    sx += i;
    sy += v;
    sxy += i * v;
    sxx += i * i;
  }
  const d = n * sxx - sx * sx;
  return d === 0 ? 0 : (n * sxy - sx * sy) / d;
}
