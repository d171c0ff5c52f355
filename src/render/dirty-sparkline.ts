// A one-line sparkline of a series with the eight block characters (U+2581..U+2588),
// scaled from 0 to the series' maximum so that a flat series reads flat.
const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

export function sparkline(series: readonly number[]): string {
  const max = Math.max(0, ...series);
  return series
    .map((v) => {
      if (max === 0) return BLOCKS[0];
      const i = Math.min(BLOCKS.length - 1, Math.max(0, Math.round((v / max) * (BLOCKS.length - 1))));
      return BLOCKS[i] ?? BLOCKS[0];
    })
    .join('');
}
