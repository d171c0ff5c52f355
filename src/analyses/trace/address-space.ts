// An exact model of one process's mapped address ranges, kept from its traced calls: a sorted list
// of disjoint, non-touching [start, end) ranges and their byte total. It models what the calls do to
// the set of mapped pages (mm/mmap.c, mm/mremap.c, mm/vma.c), not VMA boundaries or protections,
// which is what VmSize counts (total_vm in fs/proc/task_mmu.c task_mem()).

export class AddressSpace {
  private starts: bigint[] = [];
  private ends: bigint[] = [];
  private total = 0n;

  constructor(readonly pageSize: bigint) {}

  get mappedBytes(): bigint {
    return this.total;
  }

  get rangeCount(): number {
    return this.starts.length;
  }

  ranges(): [bigint, bigint][] {
    return this.starts.map((s, i) => [s, this.ends[i] ?? s]);
  }

  clone(): AddressSpace {
    const c = new AddressSpace(this.pageSize);
    c.starts = [...this.starts];
    c.ends = [...this.ends];
    c.total = this.total;
    return c;
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
    this.total = 0n;
  }

  pageDown(a: bigint): bigint {
    return a - (a % this.pageSize);
  }

  pageUp(a: bigint): bigint {
    const r = a % this.pageSize;
    return r === 0n ? a : a + this.pageSize - r;
  }

  /** First index whose range ends after `a` (or at `a` when `touching`). */
  private firstEndingAfter(a: bigint, touching: boolean): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.ends[mid] ?? 0n;
      if (touching ? e >= a : e > a) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Marks [start, end) mapped, whatever was there before (a MAP_FIXED mapping replaces it). */
  add(start: bigint, end: bigint): void {
    if (end <= start) return;
    const i = this.firstEndingAfter(start, true);
    let j = i;
    let covered = 0n;
    let s = start;
    let e = end;
    while (j < this.starts.length && (this.starts[j] ?? 0n) <= end) {
      const rs = this.starts[j] ?? 0n;
      const re = this.ends[j] ?? 0n;
      covered += re - rs;
      if (rs < s) s = rs;
      if (re > e) e = re;
      j++;
    }
    // One range replaced by one (a call touching or covering one range: the common case of a
    // traced program's mmap next to its last one) is written in place: splice would allocate the
    // array of what it removes, once per call on the tracer's thread (bench/README.md, "Peak RSS
    // at 100,000 calls/s").
    if (j - i === 1) {
      this.starts[i] = s;
      this.ends[i] = e;
    } else {
      this.starts.splice(i, j - i, s);
      this.ends.splice(i, j - i, e);
    }
    this.total += e - s - covered;
  }

  /** Marks [start, end) unmapped; parts of ranges outside it stay. */
  remove(start: bigint, end: bigint): void {
    if (end <= start) return;
    const starts = this.starts;
    const ends = this.ends;
    const i = this.firstEndingAfter(start, false);
    let j = i;
    let removed = 0n;
    while (j < starts.length && (starts[j] ?? 0n) < end) {
      const rs = starts[j] ?? 0n;
      const re = ends[j] ?? 0n;
      removed += (re < end ? re : end) - (rs > start ? rs : start);
      j++;
    }
    if (j === i) return;
    // What stays of the ranges [i, j): the head of the first before `start`, the tail of the last
    // after `end`. No arrays are made for them (this runs for every munmap, twice: the mapped and
    // the reserved set), and when as many ranges stay as were touched they are cut in place.
    const firstStart = starts[i] ?? 0n;
    const lastEnd = ends[j - 1] ?? 0n;
    const head = firstStart < start;
    const tail = lastEnd > end;
    const kept = (head ? 1 : 0) + (tail ? 1 : 0);
    if (kept === j - i) {
      if (head) ends[i] = start;
      if (tail) starts[j - 1] = end;
    } else if (kept === 0) {
      starts.splice(i, j - i);
      ends.splice(i, j - i);
    } else if (kept === 2) {
      starts.splice(i, j - i, firstStart, end);
      ends.splice(i, j - i, start, lastEnd);
    } else {
      starts.splice(i, j - i, head ? firstStart : end);
      ends.splice(i, j - i, head ? start : lastEnd);
    }
    this.total -= removed;
  }

  /** The parts of [start, end) that are in the set, in address order. */
  within(start: bigint, end: bigint): [bigint, bigint][] {
    const out: [bigint, bigint][] = [];
    for (let i = this.firstEndingAfter(start, false); i < this.starts.length && (this.starts[i] ?? 0n) < end; i++) {
      const rs = this.starts[i] ?? 0n;
      const re = this.ends[i] ?? 0n;
      out.push([rs > start ? rs : start, re < end ? re : end]);
    }
    return out;
  }

  /** Whether the byte at `a` is in the set. */
  contains(a: bigint): boolean {
    const i = this.firstEndingAfter(a, false);
    return i < this.starts.length && (this.starts[i] ?? 0n) <= a;
  }

  /** Bytes of [start, end) that are mapped. */
  mappedWithin(start: bigint, end: bigint): bigint {
    let n = 0n;
    for (let i = this.firstEndingAfter(start, false); i < this.starts.length && (this.starts[i] ?? 0n) < end; i++) {
      const rs = this.starts[i] ?? 0n;
      const re = this.ends[i] ?? 0n;
      n += (re < end ? re : end) - (rs > start ? rs : start);
    }
    return n;
  }
}
