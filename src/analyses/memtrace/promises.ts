// Lwt's promises by creation site ("which Lwt threads are created, and where").
//
// A sample belongs to an *Lwt call* when its allocation point is inside Lwt: from the innermost
// frame outwards, the frames are Lwt's (or the standard library's, or the memlens task glue
// Memlens_trace_lwt) up to the first application frame, the *creation site*. The outermost Lwt
// frame of that run names the call (`Lwt.bind`, `Lwt.map`, `Lwt.wait`, `Lwt.pause`, …): the
// function the application called. Everything Lwt allocates in that call (the promise, its
// pending state, the callback closure and its list cell, cancellation links) is the call's memory.
//
// Counting promises: since Lwt 4, every pending promise is made by
// Lwt.Pending_promises.new_pending (src/core/lwt.ml of ocsigen/lwt), which allocates the same
// blocks each time (in Lwt 5.6: the promise record, its Pending state and one more one-field
// block: 9 words with headers). Gc.Memprof samples each word, header included, with
// probability λ (a block of w words gets Binomial(w + 1, λ) samples; checked on traces at
// λ = 1), so the samples S of a site's new_pending blocks estimate its promises as
//   N ≈ S / (λ W),   W = the words (with headers) of one promise's blocks,
// with the binomial standard error √(S (1 - λ)) / (λ W). W is the sum of the sizes of the
// distinct new_pending blocks (allocation point and size) seen in the whole trace; at rates so
// low that some block kind is never sampled, W is underestimated and the count overestimated.
// Promises made without new_pending (Lwt.return's resolved promises, often inlined into the
// caller) are not counted.
import type { MemtraceDecoder } from '../../parsers/memtrace/decoder.js';
import type { SourceLocation } from '../../parsers/memtrace/types.js';
import { codeFramesInnermostFirst, frameLabel, isStdlib, isTaskFrame, locationKey, type Frame } from './frames.js';
import { RECORDER_GLUE, type LwtClassifier } from './lwt.js';

export interface PromiseGroup {
  /** The creation site: the first application frame above the Lwt call (undefined: none). */
  frame: SourceLocation | undefined;
  label: string;
  /** The Lwt function the application called, e.g. "Lwt.bind". */
  via: string;
  allocSamples: number;
  /** Samples of new_pending blocks (the promises themselves). */
  promiseSamples: number;
  live: number;
  liveAtPeak: number;
  dirty: boolean;
  /** Promise-record samples collected, and their summed lifetimes (µs). */
  promisesCollected: number;
  promiseLifetimeSumUs: number;
}

const NEW_PENDING = /(^|\.)new_pending$/;

/** "Lwt.Sequential_composition.bind.create_result_promise" -> "Lwt.bind"-like public name. */
export function lwtCallName(defname: string): string {
  const parts = defname.split('.').filter((p) => p !== '(fun)' && p !== '');
  const mod = parts[0] ?? defname;
  // Lwt's core nests its functions in internal modules (Sequential_composition, ...), whose names
  // start with a capital; the public name is the module and the first lower-case component.
  const fn = parts.slice(1).find((p) => /^[a-z_]/.test(p));
  return fn === undefined ? mod : `${mod}.${fn}`;
}

export class PromiseGroups {
  /** -1 not resolved, -2 not an Lwt call, else the group. */
  private nodeGroup: Int32Array = new Int32Array(1024).fill(-1);
  /** 1: the allocation point is new_pending (a promise block); resolved with nodeGroup. */
  private nodePromise: Uint8Array = new Uint8Array(1024);
  readonly groups: PromiseGroup[] = [];
  private readonly byKey = new Map<string, number>();
  /** Distinct promise blocks: "allocation point code key/words" -> words with header. */
  readonly promiseBlocks = new Map<string, { point: string; words: number }>();

  constructor(
    private readonly decoder: MemtraceDecoder,
    private readonly lwt: LwtClassifier,
  ) {}

  /** The group of a stack node, -1 if its sample is not allocated by an Lwt call. */
  groupOf(node: number): number {
    if (node >= this.nodeGroup.length) {
      let len = this.nodeGroup.length;
      while (len <= node) len *= 2;
      const g = new Int32Array(len).fill(-1);
      g.set(this.nodeGroup);
      this.nodeGroup = g;
      const p = new Uint8Array(len);
      p.set(this.nodePromise);
      this.nodePromise = p;
    }
    const known = this.nodeGroup[node] ?? -1;
    if (known !== -1) return known < 0 ? -1 : known;
    const g = this.resolve(node);
    this.nodeGroup[node] = g;
    return g < 0 ? -1 : g;
  }

  /** Whether the node's allocation point is Lwt's new_pending (call after groupOf). */
  isPromiseBlock(node: number): boolean {
    return (this.nodePromise[node] ?? 0) === 1;
  }

  /** Records a sampled promise block's kind (allocation point and size). */
  notePromiseBlock(node: number, lengthWords: number): void {
    const code = this.decoder.trie.codeOf(node);
    const key = `${code}/${lengthWords}`;
    if (this.promiseBlocks.has(key)) return;
    const locs = this.decoder.locations.get(code);
    const inner = locs?.[locs.length - 1];
    this.promiseBlocks.set(key, {
      point: inner === undefined ? `0x${this.decoder.keys.code(code).toString(16)}` : `${inner.defname}:${inner.line}`,
      words: lengthWords + 1,
    });
  }

  /** W: words (headers included) of one promise's new_pending blocks; 0 if none was seen. */
  wordsPerPromise(): number {
    let w = 0;
    for (const b of this.promiseBlocks.values()) w += b.words;
    return w;
  }

  private resolve(node: number): number {
    const { trie, locations, keys } = this.decoder;
    let first = true;
    let promise = false;
    let outerLwt: SourceLocation | undefined;
    let app: Frame | undefined;
    for (let n = node; n !== 0 && app === undefined; n = trie.parentOf(n)) {
      for (const f of codeFramesInnermostFirst(trie.codeOf(n), locations)) {
        if (isTaskFrame(f)) continue;
        const l = f.loc;
        const inLwt = l !== undefined && this.lwt.isLwt(l);
        const inStd = l !== undefined && isStdlib(l);
        if (first) {
          first = false;
          if (l !== undefined && NEW_PENDING.test(l.defname)) promise = true;
        }
        if (inLwt) {
          if (!RECORDER_GLUE.test(l.defname)) outerLwt = l;
          continue;
        }
        if (inStd) continue;
        app = f;
        break;
      }
    }
    // Not an Lwt call: no Lwt frame below the first application frame, or the standard library
    // allocated on the application's behalf before any Lwt frame (owner 'app' in site-resolver).
    if (outerLwt === undefined || !this.allocatedByLwt(node)) return -2;
    const via = lwtCallName(outerLwt.defname);
    const key = `${app?.loc === undefined ? (app === undefined ? '' : `code:${app.code}`) : locationKey(app.loc)}\u0000${via}`;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.groups.length;
      this.groups.push({
        frame: app?.loc,
        label: app === undefined ? '(no application frame)' : frameLabel(app, keys),
        via,
        allocSamples: 0,
        promiseSamples: 0,
        live: 0,
        liveAtPeak: 0,
        dirty: false,
        promisesCollected: 0,
        promiseLifetimeSumUs: 0,
      });
      this.byKey.set(key, id);
    }
    if (promise) this.nodePromise[node] = 1;
    return id;
  }

  /** Lwt's own allocation: the first frame outside the standard library is Lwt's. */
  private allocatedByLwt(node: number): boolean {
    const { trie, locations } = this.decoder;
    for (let n = node; n !== 0; n = trie.parentOf(n)) {
      for (const f of codeFramesInnermostFirst(trie.codeOf(n), locations)) {
        if (isTaskFrame(f)) continue;
        const l = f.loc;
        if (l !== undefined && isStdlib(l)) continue;
        return l !== undefined && this.lwt.isLwt(l);
      }
    }
    return false;
  }
}
