// Allocation sites. A sample's site is named by two frames:
// - its *attribution*: the first frame, from the allocation point outwards, that is neither in
//   Lwt nor in OCaml's standard library (Bytes.make or Hashtbl.add are how code allocates, not
//   who); failing that the first frame outside Lwt, then the Lwt task's root frame, then the
//   allocation point itself;
// - its *allocation point*: the innermost frame, when it differs.
// The sample is *Lwt's own* when the first frame outside the standard library, from the
// allocation point outwards, is in Lwt (a promise, a callback cell, a queue node allocated by
// Lwt on the site's behalf), and the application's otherwise. Every ranking can then split
// Lwt's share from the application's and still name application code for both.
import type { MemtraceDecoder } from '../../parsers/memtrace/decoder.js';
import type { SourceLocation } from '../../parsers/memtrace/types.js';
import type { Owner } from '../../wire/memtrace.js';
import { codeFramesInnermostFirst, frameLabel, isStdlib, isTaskFrame, locationKey, type Frame } from './frames.js';
import type { LwtClassifier } from './lwt.js';

export interface SiteIdentity {
  key: string;
  owner: Owner;
  frame: SourceLocation | undefined;
  allocationPoint: SourceLocation | undefined;
  label: string;
}

function growFilled(a: Int32Array, need: number): Int32Array {
  let len = a.length;
  while (len <= need) len *= 2;
  const grown = new Int32Array(len).fill(-1);
  grown.set(a);
  return grown;
}

export class SiteResolver {
  private nodeSite: Int32Array = new Int32Array(1024).fill(-1);
  /** -1 = not resolved yet, -2 = no task, else the task id. */
  private nodeTask: Int32Array = new Int32Array(1024).fill(-1);
  readonly sites: SiteIdentity[] = [];
  /** Lwt task names (from the recording library's root frames); index = task id. */
  readonly tasks: string[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly taskIds = new Map<string, number>();

  constructor(
    private readonly decoder: MemtraceDecoder,
    private readonly lwt: LwtClassifier,
  ) {}

  /** The site index of a stack node (resolved once per node). */
  siteOf(node: number): number {
    if (node >= this.nodeSite.length) this.nodeSite = growFilled(this.nodeSite, node);
    const known = this.nodeSite[node] ?? -1;
    if (known >= 0) return known;
    const id = this.resolve(node);
    this.nodeSite[node] = id;
    return id;
  }

  /** The Lwt task of a stack node's backtrace, -1 if it has none. */
  taskOf(node: number): number {
    if (node >= this.nodeTask.length) this.nodeTask = growFilled(this.nodeTask, node);
    const known = this.nodeTask[node] ?? -1;
    if (known !== -1) return known < 0 ? -1 : known;
    let id = -2;
    const root = this.decoder.trie.rootOf(node);
    if (root !== 0) {
      const locs = this.decoder.locations.get(this.decoder.trie.codeOf(root));
      const outer = locs?.[0];
      if (outer !== undefined && isTaskFrame({ loc: outer, code: 0 })) {
        id = this.taskIds.get(outer.defname) ?? -2;
        if (id === -2) {
          id = this.tasks.length;
          this.tasks.push(outer.defname);
          this.taskIds.set(outer.defname, id);
        }
      }
    }
    this.nodeTask[node] = id;
    return id < 0 ? -1 : id;
  }

  private resolve(node: number): number {
    const { trie, locations, keys } = this.decoder;
    let owner: Owner | undefined;
    let chosen: Frame | undefined;
    let outsideLwt: Frame | undefined;
    let task: Frame | undefined;
    let innermost: Frame | undefined;
    for (let n = node; n !== 0 && chosen === undefined; n = trie.parentOf(n)) {
      for (const f of codeFramesInnermostFirst(trie.codeOf(n), locations)) {
        innermost ??= f;
        if (isTaskFrame(f)) {
          task = f;
          continue;
        }
        const inLwt = f.loc !== undefined && this.lwt.isLwt(f.loc);
        const inStd = f.loc !== undefined && isStdlib(f.loc);
        if (owner === undefined && !inStd) owner = inLwt ? 'lwt' : 'app';
        if (!inLwt) outsideLwt ??= f;
        if (!inLwt && !inStd) {
          chosen = f;
          break;
        }
      }
    }
    const f = chosen ?? outsideLwt ?? task ?? innermost;
    const own: Owner = owner ?? 'app';
    let key: string;
    let label: string;
    const keyOf = (x: Frame): string => (x.loc === undefined ? `code:${x.code}` : locationKey(x.loc));
    if (f === undefined) {
      key = `${own}\u0000(no backtrace)`;
      label = '(no backtrace)';
    } else {
      key = `${own}\u0000${keyOf(f)}`;
      label = isTaskFrame(f) ? `task ${f.loc?.defname ?? '?'}` : frameLabel(f, keys);
      if (innermost !== undefined && innermost !== f && keyOf(innermost) !== keyOf(f)) {
        key += `\u0000${keyOf(innermost)}`;
        label += ` → ${innermost.loc?.defname ?? frameLabel(innermost, keys)}`;
      }
    }
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.sites.length;
      const point = innermost !== undefined && innermost !== f ? innermost.loc : undefined;
      this.sites.push({ key, owner: own, frame: f?.loc, allocationPoint: point, label });
      this.byKey.set(key, id);
    }
    return id;
  }
}
