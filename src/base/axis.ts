// Chart axes that choose their unit from their range: one unit per axis ("0 MiB, 5 MiB,
// 10 MiB, 15 MiB", never "512 KiB, 1.00 MiB" side by side), round steps in that unit, and as
// many decimals as the step needs. A 13 ms trace reads "0 ms, 2 ms, 4 ms…", not "0.00 s, 0.00 s".
// Used by the HTML report's hand-drawn SVG and by the dashboard's ECharts axes (as their max
// and interval), so both draw the same ticks.

export interface AxisScale {
  /** The unit every label uses, e.g. "MiB" or "ms". */
  unit: string;
  /** Base units (bytes, seconds) per displayed unit. */
  divisor: number;
  /** Distance between ticks, in base units. */
  step: number;
  /** The axis's end: the first tick at or above the largest value, in base units. */
  max: number;
  /** Tick values from 0 to max, in base units. */
  ticks: number[];
  /** Decimals of every label but 0's: the fewest that tell the ticks apart (the step's). */
  decimals: number;
  /** The label of the 0 tick, without decimals: "0 B" on a byte axis (not "0.0 GiB"), "0 ms" on a time axis in ms. */
  zero: string;
}

/** A round step (1, 2, 2.5 or 5 × 10^k) that cuts `range` into about `target` parts. */
export function niceStep(range: number, target: number): number {
  if (!(range > 0) || !Number.isFinite(range)) return 1;
  const raw = range / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return m * mag;
}

function scale(maxValue: number, unit: string, divisor: number, target: number, zero: string): AxisScale {
  const inUnit = Math.max(maxValue, 0) / divisor;
  const stepU = inUnit > 0 ? niceStep(inUnit, target) : 1;
  const n = Math.max(1, Math.ceil(inUnit / stepU - 1e-9));
  const ticks: number[] = [];
  for (let i = 0; i <= n; i++) ticks.push(i * stepU * divisor);
  // Decimals the step needs: 0.25 needs 2, 2.5 needs 1, 5 needs none.
  let decimals = 0;
  while (decimals < 6 && Math.abs(Math.round(stepU * 10 ** decimals) - stepU * 10 ** decimals) > 1e-9 * 10 ** decimals)
    decimals++;
  return { unit, divisor, step: stepU * divisor, max: n * stepU * divisor, ticks, decimals, zero };
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** A bytes axis from 0 to at least `maxBytes`, in the binary unit of its largest value. */
export function byteAxis(maxBytes: number, target = 4): AxisScale {
  let i = 0;
  let d = 1;
  while (i < BYTE_UNITS.length - 1 && maxBytes / d >= 1024) {
    d *= 1024;
    i++;
  }
  const s = scale(maxBytes, BYTE_UNITS[i] ?? 'B', d, target, '0 B');
  // Whole bytes only.
  return i === 0 ? { ...s, decimals: 0 } : s;
}

/** A time axis from 0 to at least `maxS` seconds, in µs, ms, s, min or h by its range. */
export function secondsAxis(maxS: number, target = 5): AxisScale {
  const [unit, divisor]: [string, number] =
    maxS < 1e-3
      ? ['µs', 1e-6]
      : maxS < 1
        ? ['ms', 1e-3]
        : maxS < 120
          ? ['s', 1]
          : maxS < 7200
            ? ['min', 60]
            : ['h', 3600];
  return scale(maxS, unit, divisor, target, `0 ${unit}`);
}

/** A tick's label in its axis's unit. */
export function axisText(value: number, a: AxisScale): string {
  if (value === 0) return a.zero;
  return `${(value / a.divisor).toFixed(a.decimals)} ${a.unit}`;
}

/** A duration in the unit its own size calls for, three significant digits: "13.0 ms", "2.50 s". */
export function secondsText(s: number): string {
  if (s === 0) return '0 s';
  const a = secondsAxis(Math.abs(s));
  const v = s / a.divisor;
  const abs = Math.abs(v);
  return `${abs >= 100 || v === 0 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2)} ${a.unit}`;
}
