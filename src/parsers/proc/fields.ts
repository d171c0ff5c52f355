// Line scanning shared by the "Key:   value kB" files of /proc (meminfo, status, smaps,
// smaps_rollup). The kernel prints these with seq_printf/show_val_kb: the key ends at the
// first ':', the value is a decimal integer, and the optional unit is " kB" = 1024 bytes
// (fs/proc/meminfo.c show_val_kb, fs/proc/task_mmu.c SEQ_PUT_DEC).

/** One "Key: value [kB]" line, or undefined when the line has another shape. */
export interface FieldLine {
  key: string;
  /** The value in bytes when the line had a "kB" unit, otherwise the bare integer. */
  value: number;
  hasKbUnit: boolean;
}

const FIELD = /^([^:\s][^:]*):\s*(-?\d+)(?:\s+(kB))?\s*$/;

export function parseFieldLine(line: string): FieldLine | undefined {
  const m = FIELD.exec(line);
  if (!m?.[1] || m[2] === undefined) return undefined;
  const n = Number(m[2]);
  const kb = m[3] === 'kB';
  return { key: m[1], value: kb ? n * 1024 : n, hasKbUnit: kb };
}

/** Splits text into lines without the trailing empty one. */
export function lines(text: string): string[] {
  const out = text.split('\n');
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** The decimal integer at text[i..end), after leading blanks; NaN when there is none. */
export function intAt(text: string, i: number, end: number): number {
  while (i < end && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
  let n = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
    digits++;
  }
  return digits > 0 ? n : NaN;
}

/** The bytes of a "Key:   N kB" line whose colon is at `colon`; NaN when it has another shape. */
export function kbLineBytes(text: string, colon: number, end: number): number {
  if (!text.startsWith(' kB', end - 3)) return NaN;
  return intAt(text, colon + 1, end - 3) * 1024;
}
