// Backtraces interned as paths in a trie of location codes, caller first. An allocation's
// backtrace is a single node number; consecutive allocations share their common prefix, so
// only the new suffix costs a lookup. Memory grows with the number of distinct stacks, not
// with the number of events.

export class StackTrie {
  /** parent[n]: the caller's node; node 0 is the empty backtrace. */
  private parent = new Int32Array(1024);
  private codes = new Float64Array(1024);
  private depths = new Int32Array(1024);
  private readonly children: (Map<number, number> | undefined)[] = [undefined];
  private count = 1;

  get size(): number {
    return this.count;
  }

  child(node: number, code: number): number {
    let m = this.children[node];
    if (m === undefined) {
      m = new Map();
      this.children[node] = m;
    }
    const existing = m.get(code);
    if (existing !== undefined) return existing;
    const n = this.count++;
    if (n >= this.parent.length) this.grow();
    this.parent[n] = node;
    this.codes[n] = code;
    this.depths[n] = (this.depths[node] ?? 0) + 1;
    this.children.push(undefined);
    m.set(code, n);
    return n;
  }

  private grow(): void {
    const len = this.parent.length * 2;
    const p = new Int32Array(len);
    p.set(this.parent);
    this.parent = p;
    const c = new Float64Array(len);
    c.set(this.codes);
    this.codes = c;
    const d = new Int32Array(len);
    d.set(this.depths);
    this.depths = d;
  }

  parentOf(node: number): number {
    return this.parent[node] ?? 0;
  }
  codeOf(node: number): number {
    return this.codes[node] ?? 0;
  }
  depthOf(node: number): number {
    return this.depths[node] ?? 0;
  }

  /** The location codes of a node's backtrace, caller first (main ... allocation point). */
  backtrace(node: number): number[] {
    const out: number[] = new Array<number>(this.depthOf(node));
    let n = node;
    for (let i = out.length - 1; i >= 0; i--) {
      out[i] = this.codes[n] ?? 0;
      n = this.parent[n] ?? 0;
    }
    return out;
  }
}
