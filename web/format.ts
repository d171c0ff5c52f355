// How figures read on the page: binary units, "n/a" for unknown (never 0), ages in words.
import { formatBytes } from '../src/base/units.js';

export function bytesText(b: number | null | undefined): string {
  return b === null || b === undefined ? 'n/a' : formatBytes(b);
}

export function percentText(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return 'n/a';
  const p = ratio * 100;
  return `${p >= 10 ? p.toFixed(1) : p >= 0.01 || p === 0 ? p.toFixed(2) : '<0.01'} %`;
}

/** "0.4 s", "12 s", "3 min", "2 h". */
export function ageText(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

export function timeText(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function countText(n: number | null | undefined): string {
  return n === null || n === undefined ? 'n/a' : n.toLocaleString('en-US');
}
