// A timeline whose resolution adapts to a trace of unknown length: a fixed number of bins
// that start 1 ms wide; when an event falls past the last bin, neighbouring bins are merged
// pairwise and the width doubles. Everything binned registers here so it merges together.

export const MAX_BINS = 128;
const INITIAL_WIDTH_US = 1000;

export class AdaptiveBins {
  widthUs = INITIAL_WIDTH_US;
  /** Highest bin index used so far. */
  lastBin = 0;
  private readonly vectors: Float64Array[] = [];
  private readonly matrices: Float64Array[] = [];

  /** A per-bin vector that merges with the timeline. */
  vector(): Float64Array {
    const v = new Float64Array(MAX_BINS);
    this.vectors.push(v);
    return v;
  }

  /** A MAX_BINS × MAX_BINS matrix (row-major) that merges on both axes. */
  matrix(): Float64Array {
    const m = new Float64Array(MAX_BINS * MAX_BINS);
    this.matrices.push(m);
    return m;
  }

  /** The bin of a time (µs since the trace start), merging bins first if needed. */
  bin(tUs: number): number {
    let b = Math.floor(Math.max(0, tUs) / this.widthUs);
    while (b >= MAX_BINS) {
      this.merge();
      b = Math.floor(Math.max(0, tUs) / this.widthUs);
    }
    if (b > this.lastBin) this.lastBin = b;
    return b;
  }

  /** The bin of a time without merging (for times already seen). */
  binOf(tUs: number): number {
    return Math.min(MAX_BINS - 1, Math.floor(Math.max(0, tUs) / this.widthUs));
  }

  private merge(): void {
    const half = MAX_BINS / 2;
    for (const v of this.vectors) {
      for (let i = 0; i < half; i++) v[i] = (v[2 * i] ?? 0) + (v[2 * i + 1] ?? 0);
      v.fill(0, half);
    }
    for (const m of this.matrices) {
      for (let a = 0; a < half; a++) {
        for (let c = 0; c < half; c++) {
          const r0 = 2 * a * MAX_BINS;
          const r1 = r0 + MAX_BINS;
          m[a * MAX_BINS + c] =
            (m[r0 + 2 * c] ?? 0) + (m[r0 + 2 * c + 1] ?? 0) + (m[r1 + 2 * c] ?? 0) + (m[r1 + 2 * c + 1] ?? 0);
        }
        m.fill(0, a * MAX_BINS + half, (a + 1) * MAX_BINS);
      }
      m.fill(0, half * MAX_BINS);
    }
    this.widthUs *= 2;
    this.lastBin = Math.floor(this.lastBin / 2);
  }
}
