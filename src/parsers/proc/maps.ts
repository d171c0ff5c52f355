// /proc/PID/maps lines, also the header line of each VMA in smaps (fs/proc/task_mmu.c
// show_map_vma): "start-end perms offset major:minor inode" then, after padding, the name:
// a path (with " (deleted)" when unlinked), "[heap]", "[stack]", "[vdso]", "[anon:name]",
// "[anon_shmem:name]" or nothing. Newlines in paths are printed as "\012"
// (seq_file_path(m, file, "\n")).
import type { Address } from '../../base/units.js';

export interface VmaHeader {
  start: Address;
  end: Address;
  /** "rw-p": read, write, exec, then 's' shared or 'p' private. */
  perms: string;
  offset: bigint;
  /** "major:minor" of the device, in hex as printed. */
  dev: string;
  inode: number;
  /** Everything after the padding; "" for a plain anonymous mapping. */
  name: string;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) ([-rwxsp]{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;

export function parseVmaHeader(line: string): VmaHeader | undefined {
  const m = HEADER.exec(line);
  if (!m?.[1] || !m[2] || !m[3] || !m[4] || !m[5] || !m[6]) return undefined;
  return {
    start: BigInt(`0x${m[1]}`) as Address,
    end: BigInt(`0x${m[2]}`) as Address,
    perms: m[3],
    offset: BigInt(`0x${m[4]}`),
    dev: m[5],
    inode: Number(m[6]),
    name: m[7] ?? '',
  };
}

/** Quick test used while scanning smaps: does this line start a new VMA? */
export function looksLikeVmaHeader(line: string): boolean {
  const c = line.charCodeAt(0);
  // Hex digits are lower case in maps; smaps field names start with an upper-case letter.
  return ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) && line.indexOf('-') > 0;
}

/** Parses /proc/PID/maps: one VMA header per line; lines of another shape are counted. */
export function parseMaps(text: string): { vmas: VmaHeader[]; badLines: number } {
  const vmas: VmaHeader[] = [];
  let badLines = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const h = parseVmaHeader(line);
    if (h) vmas.push(h);
    else badLines++;
  }
  return { vmas, badLines };
}
