// /proc/iomem: the physical address map (kernel/resource.c r_show), one resource a line, children
// indented by two spaces per level:
//   00100000-bfffffff : System RAM
//     01000000-0225a9ff : Kernel code
// Without CAP_SYS_ADMIN every address reads as 0 (since 4.15, commit 51d7b120418e), which this
// parser reports as `hidden` so that callers do not take the map for a machine without RAM.

export interface IomemRange {
  /** First byte address. */
  start: bigint;
  /** Last byte address, inclusive, as printed. */
  end: bigint;
  name: string;
  /** Nesting level: 0 for top-level resources. */
  depth: number;
}

export interface Iomem {
  ranges: IomemRange[];
  /** True when every address is 0: the file was read without the right to see them. */
  hidden: boolean;
}

const LINE = /^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)$/;

export function parseIomem(text: string): Iomem {
  const ranges: IomemRange[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    ranges.push({
      start: BigInt(`0x${m[2] ?? '0'}`),
      end: BigInt(`0x${m[3] ?? '0'}`),
      name: m[4] ?? '',
      depth: (m[1] ?? '').length / 2,
    });
  }
  return { ranges, hidden: ranges.length > 0 && ranges.every((r) => r.start === 0n && r.end === 0n) };
}

/** A frame range [startPfn, endPfn), end exclusive. */
export interface PfnRange {
  startPfn: number;
  endPfn: number;
}

/**
 * The top-level "System RAM" ranges as whole frames, sorted and merged. A range's partial first or
 * last frame (the BIOS area often ends at 0x9fbff) counts as RAM when any byte of it is.
 */
export function systemRamPfns(iomem: Iomem, pageSize: number): PfnRange[] {
  const ps = BigInt(pageSize);
  const out: PfnRange[] = [];
  const ram = iomem.ranges
    .filter((r) => r.depth === 0 && r.name === 'System RAM')
    .map((r) => ({ startPfn: Number(r.start / ps), endPfn: Number(r.end / ps) + 1 }))
    .sort((a, b) => a.startPfn - b.startPfn);
  for (const r of ram) {
    const last = out[out.length - 1];
    if (last && r.startPfn <= last.endPfn) last.endPfn = Math.max(last.endPfn, r.endPfn);
    else out.push({ ...r });
  }
  return out;
}
