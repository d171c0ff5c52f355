// The flame graph's tree and layout (src/wire/memtrace-flame.ts): merged siblings, hidden Lwt
// frames, and stacks far deeper than the JavaScript call stack allows a recursive walk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildFlameTree,
  flameFind,
  flamePath,
  layoutFlame,
  type FlameTreeNode,
} from '../../src/wire/memtrace-flame.js';
import type { MemtraceWireFlame } from '../../src/wire/memtrace.js';

const names = (n: FlameTreeNode): string[] => n.children.map((c) => `${c.name}=${c.value}`);

test('siblings with the same frame merge and add their bytes; children largest first', () => {
  const flame: MemtraceWireFlame = {
    frames: [
      ['main', 0],
      ['f', 0],
      ['g', 0],
      ['Lwt.bind', 1],
    ],
    stacks: [
      [[0, 1], 10],
      [[0, 2], 30],
      [[0, 1, 2], 5],
      [[0, 1], 7],
    ],
  };
  const root = buildFlameTree(flame, false);
  assert.equal(root.value, 52);
  assert.deepEqual(names(root), ['main=52']);
  const main = root.children[0] as FlameTreeNode;
  assert.deepEqual(names(main), ['g=30', 'f=22']);
  assert.deepEqual(names(main.children[1] as FlameTreeNode), ['g=5']);
  assert.equal(root.height, 4);
  assert.equal(main.height, 3);
});

test('hiding Lwt frames joins what was under them; an all-Lwt stack keeps its bytes as [Lwt]', () => {
  const flame: MemtraceWireFlame = {
    frames: [
      ['main', 0],
      ['Lwt.bind', 1],
      ['f', 0],
    ],
    stacks: [
      [[0, 1, 2], 4],
      [[0, 2], 6],
      [[1], 3],
    ],
  };
  const shown = buildFlameTree(flame, false);
  assert.deepEqual(names(shown), ['main=10', 'Lwt.bind=3']);
  const hidden = buildFlameTree(flame, true);
  assert.deepEqual(names(hidden), ['main=10', '[Lwt]=3']);
  assert.deepEqual(names(hidden.children[0] as FlameTreeNode), ['f=10']);
  assert.equal(hidden.children[1]?.lwt, true);
});

test('a 100,000-frame stack builds and lays out without recursion', () => {
  const depth = 100_000;
  // Recursion, as in lists_and_sets-v1.ctf: the same two frames again and again, plus a short stack.
  const deep = Array.from({ length: depth }, (_, i) => (i === 0 ? 0 : 1 + (i % 2)));
  const flame: MemtraceWireFlame = {
    frames: [
      ['main', 0],
      ['List.map', 0],
      ['f', 0],
    ],
    stacks: [
      [deep, 1000],
      [[0, 1], 24],
    ],
  };
  const root = buildFlameTree(flame, false);
  assert.equal(root.height, depth + 1);
  const rects = layoutFlame(root, 1200, 0.3);
  // The deep chain under the root, and the short stack's List.map beside it.
  assert.equal(rects.length, depth + 2);
  assert.equal(Math.max(...rects.map((r) => r.row)), depth);
  // The deepest frame spans the share of its bytes.
  const last = rects.find((r) => r.row === depth);
  assert.ok(last !== undefined);
  assert.ok(Math.abs(last.width - (1200 * 1000) / 1024) < 1e-6, String(last.width));
  // Zooming: the path down to a frame and back.
  const path = flamePath(last.node);
  assert.equal(path.length, depth);
  assert.equal(flameFind(root, path), last.node);
  const zoomed = layoutFlame(last.node, 1200, 0.3);
  assert.deepEqual(
    zoomed.map((r) => [r.row, r.width]),
    [[0, 1200]],
  );
});

test('layout: parents before children, siblings left to right, narrow subtrees left out', () => {
  const flame: MemtraceWireFlame = {
    frames: [
      ['a', 0],
      ['b', 0],
      ['c', 0],
      ['tiny', 0],
    ],
    stacks: [
      [[0, 1], 600],
      [[0, 2], 400],
      [[0, 3], 0.1],
    ],
  };
  const rects = layoutFlame(buildFlameTree(flame, false), 1000, 0.5);
  assert.deepEqual(
    rects.map((r) => [r.node.name, r.row, Math.round(r.x), Math.round(r.width)]),
    [
      ['all', 0, 0, 1000],
      ['a', 1, 0, 1000],
      ['b', 2, 0, 600],
      ['c', 2, 600, 400],
    ],
  );
});

test('a path to a frame that no longer exists (Lwt frames hidden) stops at the deepest that does', () => {
  const flame: MemtraceWireFlame = {
    frames: [
      ['main', 0],
      ['Lwt.bind', 1],
      ['f', 0],
    ],
    stacks: [[[0, 1, 2], 4]],
  };
  const shown = buildFlameTree(flame, false);
  const f = shown.children[0]?.children[0]?.children[0];
  assert.ok(f !== undefined && f.name === 'f');
  const path = flamePath(f);
  assert.deepEqual(path, [0, 1, 2]);
  assert.equal(flameFind(buildFlameTree(flame, true), path).name, 'main');
});
