// A series as one line of the eight block characters (U+2581..U+2588), for terminals: scaled from
// 0 to the series' maximum so that a flat series reads flat and the peak is the full block. A
// series longer than maxWidth is drawn with the maximum of each group of values, so that peaks
// survive the downsampling.
const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

export function sparkline(values: readonly number[], maxWidth = Number.POSITIVE_INFINITY): string {
  const n = Math.min(maxWidth, values.length);
  const pts: number[] = [];
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * values.length) / n);
    const to = Math.max(from + 1, Math.floor(((i + 1) * values.length) / n));
    let m = -Infinity;
    for (let k = from; k < to; k++) m = Math.max(m, values[k] ?? 0);
    pts.push(m);
  }
  const max = pts.reduce((a, b) => Math.max(a, b), 0);
  return pts
    .map((v) => {
      if (max === 0) return BLOCKS[0];
      const i = Math.min(BLOCKS.length - 1, Math.max(0, Math.round((v / max) * (BLOCKS.length - 1))));
      return BLOCKS[i] ?? BLOCKS[0];
    })
    .join('');
}
