// Leftover instances: only those whose pid and start time no longer name a running process go.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findTracefs, removeInstance, removeLeftovers } from '../../src/sources/tracefs-instance.js';
import { withTraceLock } from '../helpers/trace-lock.js';

const startTime = () => {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
};

test('removeLeftovers: a reused pid (other start time) and a dead pid go; a live run stays; other names are not ours', async () => {
  const root = findTracefs();
  await withTraceLock(() => {
    const live = join(root, 'instances', `memlens-${process.pid}-${startTime()}`);
    const reused = join(root, 'instances', `memlens-${process.pid}-1`);
    const dead = join(root, 'instances', 'memlens-4194304-123'); // PID_MAX_LIMIT itself: never a pid
    const foreign = join(root, 'instances', `memlens-capture-${process.pid}`);
    for (const d of [live, reused, dead, foreign]) mkdirSync(d);
    try {
      // An instance with events enabled is removed too: everything is disabled first.
      assert.ok(existsSync(join(dead, 'events', 'syscalls', 'sys_enter_brk', 'enable')));
      // (Leftovers of other killed runs on this machine may go in the same sweep.)
      const removed = removeLeftovers(root);
      assert.ok(
        removed.includes('memlens-4194304-123') && removed.includes(`memlens-${process.pid}-1`),
        removed.join(' '),
      );
      assert.ok(!removed.some((n) => n.startsWith(`memlens-${process.pid}-`) && n !== `memlens-${process.pid}-1`));
      assert.ok(existsSync(live));
      assert.ok(existsSync(foreign));
      assert.ok(!existsSync(reused));
      assert.ok(!existsSync(dead));
    } finally {
      for (const d of [live, reused, dead, foreign]) removeInstance(d);
    }
    return Promise.resolve();
  });
});
