// The sampled objects still live, by allocation id: parallel typed arrays with a free list.
// Allocation ids are dense and increasing, so the id -> slot index is paged: pages of 1024
// ids, created on first use and dropped when their last object dies. One JS object per sample,
// or one big Map<id, slot>, made the garbage collector and hash-table churn the main cost.
// Memory: the live objects, plus at most one 4 KiB page per live object when they are spread.

const PAGE_BITS = 10;
const PAGE_SIZE = 1 << PAGE_BITS;

interface Page {
  slots: Int32Array;
  count: number;
}

export class LiveObjects {
  private readonly pages = new Map<number, Page>();
  private lastPageNo = Number.NaN;
  private lastPage: Page | undefined;
  private count = 0;
  site: Int32Array = new Int32Array(1024);
  task: Int32Array = new Int32Array(1024);
  /** The Lwt call group (promises.ts), -1 if none. */
  group: Int32Array = new Int32Array(1024);
  samples: Float64Array = new Float64Array(1024);
  /** µs since the trace start. */
  t: Float64Array = new Float64Array(1024);
  /** source (bits 0-1) | promoted (bit 2) | promise block (bit 3). */
  flags: Uint8Array = new Uint8Array(1024);
  private free = new Int32Array(1024);
  private freeCount = 0;
  private used = 0;

  get size(): number {
    return this.count;
  }

  private page(id: number, create: boolean): Page | undefined {
    const no = Math.floor(id / PAGE_SIZE);
    if (no === this.lastPageNo) return this.lastPage;
    let p = this.pages.get(no);
    if (p === undefined) {
      if (!create) return undefined;
      p = { slots: new Int32Array(PAGE_SIZE).fill(-1), count: 0 };
      this.pages.set(no, p);
    }
    this.lastPageNo = no;
    this.lastPage = p;
    return p;
  }

  /** Adds an object; an id already present (corrupt data) is replaced. */
  add(id: number, site: number, task: number, samples: number, t: number, source: number, group = -1, flags = 0): void {
    const page = this.page(id, true);
    if (page === undefined) return;
    const at = id - Math.floor(id / PAGE_SIZE) * PAGE_SIZE;
    let slot = page.slots[at] ?? -1;
    if (slot < 0) {
      if (this.freeCount > 0) slot = this.free[--this.freeCount] ?? 0;
      else {
        if (this.used >= this.site.length) this.grow();
        slot = this.used++;
      }
      page.slots[at] = slot;
      page.count++;
      this.count++;
    }
    this.site[slot] = site;
    this.task[slot] = task;
    this.group[slot] = group;
    this.samples[slot] = samples;
    this.t[slot] = t;
    this.flags[slot] = (source & 3) | flags;
  }

  /** The slot of a live object, -1 if none. */
  slotOf(id: number): number {
    const page = this.page(id, false);
    if (page === undefined) return -1;
    return page.slots[id - Math.floor(id / PAGE_SIZE) * PAGE_SIZE] ?? -1;
  }

  remove(id: number, slot: number): void {
    const no = Math.floor(id / PAGE_SIZE);
    const page = this.page(id, false);
    if (page === undefined) return;
    page.slots[id - no * PAGE_SIZE] = -1;
    page.count--;
    this.count--;
    if (page.count === 0) {
      this.pages.delete(no);
      if (this.lastPageNo === no) {
        this.lastPageNo = Number.NaN;
        this.lastPage = undefined;
      }
    }
    if (this.freeCount >= this.free.length) {
      const f = new Int32Array(this.free.length * 2);
      f.set(this.free);
      this.free = f;
    }
    this.free[this.freeCount++] = slot;
  }

  /** The slots of every live object. */
  *slots(): IterableIterator<number> {
    for (const p of this.pages.values()) for (const slot of p.slots) if (slot >= 0) yield slot;
  }

  private grow(): void {
    const len = this.site.length * 2;
    const i32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(len);
      b.set(a);
      return b;
    };
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(len);
      b.set(a);
      return b;
    };
    this.site = i32(this.site);
    this.task = i32(this.task);
    this.group = i32(this.group);
    this.samples = f64(this.samples);
    this.t = f64(this.t);
    const fl = new Uint8Array(len);
    fl.set(this.flags);
    this.flags = fl;
  }
}
