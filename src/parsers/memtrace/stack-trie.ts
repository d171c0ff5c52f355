// Backtraces interned as paths in a trie of location codes, caller first. An allocation's
// backtrace is a single node number; consecutive allocations share their common prefix, so
// only the new suffix costs a lookup. Memory grows with the number of distinct stacks, not
// with the number of events. The (parent, code) -> child index is one open-addressing hash
// table over typed arrays: a Map per node made the garbage collector the main cost.

import { CorruptDataError } from './corrupt.js';

/**
 * A bound on distinct frames (trie nodes), about 450 MiB of tables: real traces stay far below
 * (a 1,676-allocation compiler trace has 36k), while a corrupt backtrace can expand each byte
 * into many frames; past the bound the events are treated as corrupt, so memory stays bounded.
 */
export const MAX_TRIE_NODES = 16 * 1024 * 1024;

export class StackTrie {
  /** parent[n]: the caller's node; node 0 is the empty backtrace. */
  private parent = new Int32Array(1024);
  private codes = new Float64Array(1024);
  private depths = new Int32Array(1024);
  /** roots[n]: the outermost frame's node of n's backtrace (n itself at depth 1). */
  private roots = new Int32Array(1024);
  /** Hash slots holding node numbers (0 = empty); a power of two, at most half full. */
  private slots = new Int32Array(2048);
  private count = 1;

  get size(): number {
    return this.count;
  }

  private static hash(parent: number, code: number): number {
    const low = code >>> 0;
    const high = Math.floor(code / 4294967296) | 0;
    let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(low, 0x85ebca6b) ^ Math.imul(high, 0xc2b2ae35);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 12);
  }

  child(node: number, code: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = StackTrie.hash(node, code) & mask;
    for (;;) {
      const n = slots[i] ?? 0;
      if (n === 0) break;
      if (this.parent[n] === node && this.codes[n] === code) return n;
      i = (i + 1) & mask;
    }
    if (this.count >= MAX_TRIE_NODES)
      throw new CorruptDataError(`more than ${MAX_TRIE_NODES} distinct backtrace frames`);
    const n = this.count++;
    if (n >= this.parent.length) this.grow();
    this.parent[n] = node;
    this.codes[n] = code;
    this.depths[n] = (this.depths[node] ?? 0) + 1;
    this.roots[n] = node === 0 ? n : (this.roots[node] ?? 0);
    slots[i] = n;
    if (this.count * 2 > slots.length) this.rehash();
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
    const r = new Int32Array(len);
    r.set(this.roots);
    this.roots = r;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let n = 1; n < this.count; n++) {
      let i = StackTrie.hash(this.parent[n] ?? 0, this.codes[n] ?? 0) & mask;
      while ((slots[i] ?? 0) !== 0) i = (i + 1) & mask;
      slots[i] = n;
    }
    this.slots = slots;
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
  /** The node of the outermost frame (0 for the empty backtrace). */
  rootOf(node: number): number {
    return this.roots[node] ?? 0;
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
