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
