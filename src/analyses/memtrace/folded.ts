// Allocations by backtrace: folded stacks ("main;f;g 1234", caller first, the value in
// estimated bytes allocated), the input format of flamegraph.pl, speedscope and inferno; and
// the same stacks as a frame table for the HTML flame graph.
import { printable } from '../../base/terminal-text.js';
import type { MemtraceDecoder } from '../../parsers/memtrace/decoder.js';
import { codeFramesInnermostFirst, frameLabel, type Frame } from './frames.js';
import type { LwtClassifier } from './lwt.js';
import type { MemtraceWireFlame } from '../../wire/memtrace.js';

export interface StackEntry {
  /** Frames caller first. */
  frames: Frame[];
  samples: number;
}

/** Every stack that allocated, with its samples. */
export function stacksOf(decoder: MemtraceDecoder, nodeSamples: Float64Array): StackEntry[] {
  const out: StackEntry[] = [];
  const { trie, locations } = decoder;
  const n = Math.min(nodeSamples.length, trie.size);
  for (let node = 0; node < n; node++) {
    const samples = nodeSamples[node] ?? 0;
    if (samples <= 0) continue;
    const frames: Frame[] = [];
    for (let k = node; k !== 0; k = trie.parentOf(k))
      frames.push(...codeFramesInnermostFirst(trie.codeOf(k), locations));
    frames.reverse();
    out.push({ frames, samples });
  }
  return out;
}

/** A frame name safe for the folded format (no ';', no line breaks) and for a terminal. */
function foldedName(s: string): string {
  return printable(s.replace(/;/g, ':'));
}

export function foldedStacks(
  decoder: MemtraceDecoder,
  stacks: StackEntry[],
  bytesPerSample: number,
  lwt: LwtClassifier,
  hideLwt: boolean,
): string {
  const agg = new Map<string, number>();
  for (const st of stacks) {
    let names = st.frames
      .filter((f) => !(hideLwt && f.loc !== undefined && lwt.isLwt(f.loc)))
      .map((f) => foldedName(f.loc?.defname ?? frameLabel(f, decoder.keys)));
    if (names.length === 0) names = [hideLwt ? '[Lwt]' : '[no backtrace]'];
    const key = names.join(';');
    agg.set(key, (agg.get(key) ?? 0) + st.samples);
  }
  const lines: string[] = [];
  for (const [k, samples] of [...agg.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    lines.push(`${k} ${Math.round(samples * bytesPerSample)}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** The flame graph's data (typed on the wire: the dashboard draws it too). */
export type FlameData = MemtraceWireFlame;

/** The flame graph's data: the largest stacks, the rest folded into one "(other stacks)". */
export function flameData(
  decoder: MemtraceDecoder,
  stacks: StackEntry[],
  bytesPerSample: number,
  lwt: LwtClassifier,
  maxStacks = 4000,
): FlameData {
  const index = new Map<string, number>();
  const frames: [string, number][] = [];
  const idOf = (label: string, isLwt: boolean): number => {
    let i = index.get(label);
    if (i === undefined) {
      i = frames.length;
      frames.push([label, isLwt ? 1 : 0]);
      index.set(label, i);
    }
    return i;
  };
  const sorted = [...stacks].sort((a, b) => b.samples - a.samples);
  const out: [number[], number][] = [];
  let rest = 0;
  sorted.forEach((st, i) => {
    if (i >= maxStacks) {
      rest += st.samples;
      return;
    }
    out.push([
      st.frames.map((f) =>
        idOf(f.loc?.defname ?? frameLabel(f, decoder.keys), f.loc !== undefined && lwt.isLwt(f.loc)),
      ),
      Math.round(st.samples * bytesPerSample),
    ]);
  });
  if (rest > 0) out.push([[idOf('(other stacks)', false)], Math.round(rest * bytesPerSample)]);
  return { frames, stacks: out };
}
