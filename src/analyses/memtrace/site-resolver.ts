// Allocation sites. A sample's site is the first frame outside Lwt, walking from the
// allocation point outwards; the sample is Lwt's own when the allocation point itself is in
// Lwt (a promise, a callback cell, a queue node allocated by Lwt on the site's behalf) and
// the application's otherwise. So every ranking can split Lwt's share from the application's
// and still name application code for both.
import type { MemtraceDecoder } from '../../parsers/memtrace/decoder.js';
import type { SourceLocation } from '../../parsers/memtrace/types.js';
import type { Owner } from '../../wire/memtrace.js';
import { codeFramesInnermostFirst, frameLabel, locationKey, type Frame } from './frames.js';
import type { LwtClassifier } from './lwt.js';

export interface SiteIdentity {
  key: string;
  owner: Owner;
  frame: SourceLocation | undefined;
  label: string;
}

export class SiteResolver {
  private nodeSite = new Int32Array(1024).fill(-1);
  readonly sites: SiteIdentity[] = [];
  private readonly byKey = new Map<string, number>();

  constructor(
    private readonly decoder: MemtraceDecoder,
    private readonly lwt: LwtClassifier,
  ) {}

  /** The site index of a stack node (resolved once per node). */
  siteOf(node: number): number {
    if (node >= this.nodeSite.length) {
      let len = this.nodeSite.length;
      while (len <= node) len *= 2;
      const grown = new Int32Array(len).fill(-1);
      grown.set(this.nodeSite);
      this.nodeSite = grown;
    }
    const known = this.nodeSite[node] ?? -1;
    if (known >= 0) return known;
    const id = this.resolve(node);
    this.nodeSite[node] = id;
    return id;
  }

  private resolve(node: number): number {
    const { trie, locations, keys } = this.decoder;
    let owner: Owner = 'app';
    let chosen: Frame | undefined;
    let innermost: Frame | undefined;
    let first = true;
    for (let n = node; n !== 0 && chosen === undefined; n = trie.parentOf(n)) {
      for (const f of codeFramesInnermostFirst(trie.codeOf(n), locations)) {
        innermost ??= f;
        const inLwt = f.loc !== undefined && this.lwt.isLwt(f.loc);
        if (first) {
          owner = inLwt ? 'lwt' : 'app';
          first = false;
        }
        if (!inLwt) {
          chosen = f;
          break;
        }
      }
    }
    // All frames in Lwt (or no backtrace at all): the allocation point stands for the site.
    const f = chosen ?? innermost;
    let key: string;
    let label: string;
    if (f === undefined) {
      key = `${owner}\u0000(no backtrace)`;
      label = '(no backtrace)';
    } else {
      key = `${owner}\u0000${f.loc === undefined ? `code:${f.code}` : locationKey(f.loc)}`;
      label = frameLabel(f, keys);
    }
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.sites.length;
      this.sites.push({ key, owner, frame: f?.loc, label });
      this.byKey.set(key, id);
    }
    return id;
  }
}
