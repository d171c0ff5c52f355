// The backtrace cache of src/backtrace_codec.ml, reader side. Each codeword is a u16
// `bucket << 2 | tag`: tag 0 = hit, 1 = hit + 1 predicted frame, 2 = hit + u8 N predicted
// frames, 3 = miss + u64 literal code stored into the bucket. The reader never hashes: it
// follows the buckets the writer chose, and remembers which bucket followed which
// (cache_pred) to replay predictions. Each events packet carries one (ix, pred, value) of the
// writer's cache, which detects a desynchronised decoder.
import { CorruptDataError } from './corrupt.js';
import type { Cursor } from '../../base/cursor.js';
import type { CodeKeys } from './code-key.js';
import type { StackTrie } from './stack-trie.js';

export const CACHE_SIZE = 1 << 14;
/**
 * A bound on decoded frames per backtrace: memtrace caps a backtrace at 4096 encoded bytes,
 * which cannot expand to more than ~350k frames. Beyond this the data is corrupt, and the
 * bound keeps a hostile file from making the reader allocate without limit.
 */
export const MAX_FRAMES = 1 << 20;

export class BacktraceCache {
  readonly loc = new Float64Array(CACHE_SIZE);
  readonly pred = new Uint16Array(CACHE_SIZE);
  /** Trie nodes of the previous backtrace, by depth (lastNodes[i] = node of frames 0..i). */
  private lastNodes: Int32Array = new Int32Array(64);
  private lastLen = 0;
  private scratch: Int32Array = new Int32Array(64);

  /** Checks a packet's verifier triple against this cache (0xffff = no check). */
  verify(ix: number, pred: number, valueKey: number): boolean {
    if (ix === 0xffff) return true;
    return ix < CACHE_SIZE && this.pred[ix] === pred && this.loc[ix] === valueKey;
  }

  /**
   * Decodes one backtrace; returns its trie node. `commonPrefix` frames are shared with the
   * previous backtrace of this domain. If the prefix is longer than the previous backtrace
   * (the writer truncated it; memtrace #15), the codewords are still decoded so the cache
   * stays in sync, and the previous backtrace is returned, as memtrace does.
   */
  read(
    c: Cursor,
    nencoded: number,
    commonPrefix: number,
    keys: CodeKeys,
    trie: StackTrie,
  ): { node: number; truncated: boolean } {
    const truncated = commonPrefix > this.lastLen;
    let nodes = truncated ? this.scratch : this.lastNodes;
    let pos = truncated ? 0 : commonPrefix;
    let node = truncated ? 0 : pos === 0 ? 0 : (nodes[pos - 1] ?? 0);
    const loc = this.loc;
    const predTable = this.pred;
    let pred = 0;
    for (let i = 0; i < nencoded; i++) {
      const word = c.u16();
      const bucket = word >>> 2;
      const tag = word & 3;
      predTable[pred] = bucket;
      let code: number;
      let predictions = 0;
      if (tag === 3) {
        const low = c.u32();
        const high = c.u32();
        code = keys.key(low, high);
        loc[bucket] = code;
      } else {
        code = loc[bucket] ?? 0;
        predictions = tag === 0 ? 0 : tag === 1 ? 1 : c.u8();
      }
      if (pos + 1 + predictions > MAX_FRAMES) throw new CorruptDataError(`backtrace deeper than ${MAX_FRAMES} frames`);
      if (pos + 1 + predictions > nodes.length) nodes = this.growNodes(nodes, pos + 1 + predictions, truncated);
      node = trie.child(node, code);
      nodes[pos++] = node;
      pred = bucket;
      for (let k = 0; k < predictions; k++) {
        pred = predTable[pred] ?? 0;
        node = trie.child(node, loc[pred] ?? 0);
        nodes[pos++] = node;
      }
    }
    if (truncated) return { node: this.lastLen === 0 ? 0 : (this.lastNodes[this.lastLen - 1] ?? 0), truncated: true };
    this.lastLen = pos;
    return { node: pos === 0 ? 0 : (nodes[pos - 1] ?? 0), truncated: false };
  }

  private growNodes(nodes: Int32Array, need: number, scratch: boolean): Int32Array {
    let len = nodes.length;
    while (len < need) len *= 2;
    const grown = new Int32Array(len);
    grown.set(nodes);
    if (scratch) this.scratch = grown;
    else this.lastNodes = grown;
    return grown;
  }
}
