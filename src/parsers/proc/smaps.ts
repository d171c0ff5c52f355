// /proc/PID/smaps: the maps header line of each area followed by "Key:   value kB" lines
// (fs/proc/task_mmu.c show_smap(), Documentation/filesystems/proc.rst). Sizes are in the
// kernel's "kB", which is 1024 bytes; they are returned in bytes.
import { ParseError } from '../../base/errors.js';
import { kibToBytes, type Bytes } from '../../base/units.js';
import { parseMaps, type MapsEntry } from './maps.js';

export interface SmapsEntry {
  area: MapsEntry;
  /** Every "Key: N kB" field of the area, in bytes. */
  sizes: Map<string, Bytes>;
  /** VmFlags two-letter codes ("rd", "wr", "sd" = soft-dirty, "hg", "nh" = no huge pages, …). */
  vmFlags: string[];
}

const HEADER = /^[0-9a-f]+-[0-9a-f]+ /;
const SIZE = /^([A-Za-z_]+):\s+(\d+) kB$/;

export function parseSmaps(text: string, source = 'smaps'): SmapsEntry[] {
  const out: SmapsEntry[] = [];
  let current: SmapsEntry | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === undefined || line === '') continue;
    if (HEADER.test(line)) {
      const [area] = parseMaps(line, `${source}:${i + 1}`);
      if (!area) throw new ParseError('unreadable area header', source, i + 1);
      current = { area, sizes: new Map(), vmFlags: [] };
      out.push(current);
      continue;
    }
    if (!current) throw new ParseError('field before the first area header', source, i + 1);
    const m = SIZE.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) {
      current.sizes.set(m[1], kibToBytes(Number(m[2])));
    } else if (line.startsWith('VmFlags:')) {
      current.vmFlags = line.slice('VmFlags:'.length).trim().split(/\s+/).filter((f) => f !== '');
    }
    // Other lines (THPeligible: 0, ProtectionKey: 0) carry no size and are not needed here.
  }
  return out;
}

/** A size field of an area in bytes; absent fields (older kernels) read as 0. */
export function smapsSize(e: SmapsEntry, key: string): Bytes {
  return e.sizes.get(key) ?? kibToBytes(0);
}
