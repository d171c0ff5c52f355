// A curve as a line of block characters, for terminals.
const BLOCKS = '▁▂▃▄▅▆▇█';

export function sparkline(values: readonly number[], width = 60): string {
  if (values.length === 0) return '';
  const n = Math.min(width, values.length);
  const pts: number[] = [];
  for (let i = 0; i < n; i++) {
    // The maximum of each group of bins, so peaks survive downsampling.
    const from = Math.floor((i * values.length) / n);
    const to = Math.max(from + 1, Math.floor(((i + 1) * values.length) / n));
    let m = -Infinity;
    for (let k = from; k < to; k++) m = Math.max(m, values[k] ?? 0);
    pts.push(m);
  }
  const max = Math.max(...pts);
  const min = Math.min(0, ...pts);
  if (max <= min) return BLOCKS[0]?.repeat(n) ?? '';
  return pts.map((v) => BLOCKS[Math.min(7, Math.floor(((v - min) / (max - min)) * 7.999))] ?? ' ').join('');
}
