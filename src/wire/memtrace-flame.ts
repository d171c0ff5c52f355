// How a consumer reads MemtraceWireFlame: the call tree of the allocations and the rectangles of
// its flame graph. The dashboard (web/views/memtrace.ts) imports these functions; the
// self-contained HTML report inlines their compiled source (Function.prototype.toString), so each
// function here must stay self-contained: no imports, no module-level helpers, plain ES2022.
//
// Neither function recurses. OCaml stacks are as deep as the program's recursion: the public trace
// lists_and_sets-v1.ctf has stacks 9,984 frames deep, and a recursive walk of that tree throws
// "Maximum call stack size exceeded" in Chromium. Both walks keep their own stack in an array.
import type { MemtraceWireFlame } from './memtrace.js';

export interface FlameTreeNode {
  /** The frame index (its key among its siblings); -1 for a run of hidden Lwt frames, -2 for the root. */
  key: number;
  name: string;
  lwt: boolean;
  /** Bytes allocated in this frame and below. */
  value: number;
  parent: FlameTreeNode | null;
  /** Largest first. */
  children: FlameTreeNode[];
  /** Rows this node and its deepest descendant take (1 for a leaf). */
  height: number;
}

/**
 * The call tree of the stacks, caller first: siblings with the same frame are merged and their
 * bytes added. With hideLwt, Lwt's frames are left out; a stack made only of Lwt frames becomes
 * one "[Lwt]" frame so that its bytes still show.
 */
export function buildFlameTree(flame: MemtraceWireFlame, hideLwt: boolean): FlameTreeNode {
  const root: FlameTreeNode = { key: -2, name: 'all', lwt: false, value: 0, parent: null, children: [], height: 1 };
  const frames = flame.frames;
  // One map for the whole tree, keyed by (parent's number, frame + 1), rather than a Map per node:
  // a 100,000-frame stack made 100,000 Maps and spent most of its time in the garbage collector.
  const width = frames.length + 1;
  const nodes: FlameTreeNode[] = [root];
  const index = new Map<number, number>();
  for (const stack of flame.stacks) {
    const bytes = stack[1];
    root.value += bytes;
    let at = 0;
    let kept = 0;
    const ids = stack[0];
    for (let i = 0; i <= ids.length; i++) {
      let id: number;
      if (i < ids.length) {
        id = ids[i] ?? -1;
        if (hideLwt && frames[id]?.[1] === 1) continue;
      } else {
        // After the last frame: a stack that kept none still gets one node for its bytes.
        if (kept > 0) break;
        id = -1;
      }
      kept++;
      const k = at * width + (id + 1);
      let next = index.get(k);
      if (next === undefined) {
        const fr = frames[id];
        const parent = nodes[at] as FlameTreeNode;
        const node: FlameTreeNode = {
          key: id,
          name: fr === undefined ? '[Lwt]' : fr[0],
          lwt: fr === undefined || fr[1] === 1,
          value: 0,
          parent,
          children: [],
          height: 1,
        };
        next = nodes.length;
        nodes.push(node);
        index.set(k, next);
        parent.children.push(node);
      }
      (nodes[next] as FlameTreeNode).value += bytes;
      at = next;
    }
  }
  // Children largest first, and each node's height, in post-order without recursion: a node is
  // finished once all its children are.
  const order: FlameTreeNode[] = [];
  const todo: FlameTreeNode[] = [root];
  while (todo.length > 0) {
    const n = todo.pop() as FlameTreeNode;
    order.push(n);
    for (const c of n.children) todo.push(c);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as FlameTreeNode;
    n.children.sort((a, b) => b.value - a.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let h = 0;
    for (const c of n.children) if (c.height > h) h = c.height;
    n.height = h + 1;
  }
  return root;
}

export interface FlameRect {
  node: FlameTreeNode;
  x: number;
  width: number;
  /** 0 for `focus` itself. */
  row: number;
}

/**
 * The rectangles of the subtree under `focus`, drawn `width` wide; subtrees narrower than
 * `minWidth` are left out (their children are narrower still). Parents come before their children.
 */
export function layoutFlame(focus: FlameTreeNode, width: number, minWidth: number): FlameRect[] {
  const out: FlameRect[] = [];
  const todo: FlameRect[] = [{ node: focus, x: 0, width, row: 0 }];
  while (todo.length > 0) {
    const r = todo.pop() as FlameRect;
    out.push(r);
    const n = r.node;
    if (n.value <= 0) continue;
    let x = r.x;
    const next: FlameRect[] = [];
    for (const c of n.children) {
      const w = (r.width * c.value) / n.value;
      if (w >= minWidth) next.push({ node: c, x, width: w, row: r.row + 1 });
      x += w;
    }
    // Pushed in reverse so that siblings come out left to right.
    for (let i = next.length - 1; i >= 0; i--) todo.push(next[i] as FlameRect);
  }
  return out;
}

/** The frame keys from the root down to `node` (the root's own excluded): a zoom that survives a rebuild. */
export function flamePath(node: FlameTreeNode): number[] {
  const path: number[] = [];
  for (let n = node; n.parent !== null; n = n.parent) path.push(n.key);
  return path.reverse();
}

/** The node at `path` under `root`, or the deepest one that still exists. */
export function flameFind(root: FlameTreeNode, path: readonly number[]): FlameTreeNode {
  let at = root;
  for (const k of path) {
    const next = at.children.find((c) => c.key === k);
    if (next === undefined) break;
    at = next;
  }
  return at;
}
