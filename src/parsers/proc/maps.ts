// /proc/PID/maps: one line per virtual memory area (VMA).
// Format from fs/proc/task_mmu.c show_map_vma(): "start-end perms offset major:minor inode   path",
// addresses and offset in hex, the path padded with spaces and possibly absent (anonymous memory)
// or a pseudo-name in brackets ("[heap]", "[stack]", "[vdso]", "[anon:name]").
import { ParseError } from '../../base/errors.js';
import { address, type Address } from '../../base/units.js';

export interface MapsEntry {
  start: Address;
  /** Exclusive end. */
  end: Address;
  /** "rw-p" and the like: read, write, execute, then p (private) or s (shared). */
  perms: string;
  offset: bigint;
  /** "major:minor" in hex, as the kernel prints it. */
  device: string;
  inode: number;
  /** The path or pseudo-name; "" for anonymous memory. A " (deleted)" suffix is kept. */
  path: string;
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;

/** Parses the whole text of a maps file; `source` names it in errors. */
export function parseMaps(text: string, source = 'maps'): MapsEntry[] {
  const out: MapsEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === undefined || line === '') continue;
    const m = LINE.exec(line);
    if (!m) throw new ParseError(`not a maps line: ${JSON.stringify(line.slice(0, 120))}`, source, i + 1);
    const [, start, end, perms, offset, device, inode, path] = m;
    if (start === undefined || end === undefined || perms === undefined || offset === undefined || device === undefined || inode === undefined) {
      throw new ParseError('incomplete maps line', source, i + 1);
    }
    const s = BigInt(`0x${start}`);
    const e = BigInt(`0x${end}`);
    if (e < s) throw new ParseError(`area ends before it starts: ${start}-${end}`, source, i + 1);
    out.push({ start: address(s), end: address(e), perms, offset: BigInt(`0x${offset}`), device, inode: Number(inode), path: path ?? '' });
  }
  return out;
}

/** A short human label for an area: its path, its [pseudo-name], or the kind of anonymous memory. */
export function mappingLabel(e: MapsEntry): string {
  if (e.path !== '') return e.path;
  return e.perms.endsWith('s') ? '[anon shared]' : '[anon]';
}
