// /proc/meminfo: "Key:   value kB" for sizes and bare integers for the HugePages_* counts
// (fs/proc/meminfo.c, Documentation/filesystems/proc.rst "meminfo").
import { ParseError } from '../../base/errors.js';
import type { Bytes } from '../../base/units.js';
import { lines, parseFieldLine } from './fields.js';

export interface Meminfo {
  /** Every "kB" field, converted to bytes. */
  readonly sizes: ReadonlyMap<string, Bytes>;
  /** Every unit-less field (HugePages_Total, HugePages_Free, …). */
  readonly counts: ReadonlyMap<string, number>;
}

/** Parses /proc/meminfo. Returns undefined for text that is not meminfo (no MemTotal line). */
export function parseMeminfo(text: string, source = 'meminfo'): Meminfo | undefined {
  const sizes = new Map<string, Bytes>();
  const counts = new Map<string, number>();
  let n = 0;
  for (const line of lines(text)) {
    n++;
    if (line.trim() === '') continue;
    const f = parseFieldLine(line);
    if (!f) {
      if (sizes.size === 0) return undefined;
      throw new ParseError(`unexpected line ${JSON.stringify(line.slice(0, 60))}`, source, n);
    }
    if (f.hasKbUnit) sizes.set(f.key, f.value as Bytes);
    else counts.set(f.key, f.value);
  }
  if (!sizes.has('MemTotal')) return undefined;
  return { sizes, counts };
}

/** A size field in bytes, or 0 when this kernel does not print it. */
export function meminfoBytes(m: Meminfo, key: string): Bytes {
  return m.sizes.get(key) ?? (0 as Bytes);
}
