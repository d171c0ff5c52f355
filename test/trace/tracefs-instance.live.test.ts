// Leftover instances: only those whose pid and start time no longer name a running process go, and
// those of another pid namespace only once that namespace has no process left.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import {
  findTracefs,
  instanceName,
  pidNamespaceOf,
  removeInstance,
  removeLeftovers,
} from '../../src/sources/tracefs-instance.js';
import { withTraceLock } from '../helpers/trace-lock.js';
import { waitingFor } from '../helpers/waiting.js';

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

test("removeLeftovers across pid namespaces: another namespace's instance stays while the namespace has a process, goes after", async (t) => {
  const root = findTracefs();
  const nspid = /^NSpid:([^\n]*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim().split(/\s+/);
  if (nspid?.length !== 1) {
    t.skip('only a tracer in the initial pid namespace can see that another namespace is empty');
    return;
  }
  const ownNs = pidNamespaceOf('self');
  assert.ok(ownNs !== undefined);
  // A container's tracer: pid 1 of a pid namespace of its own. Pid 1 here is init, with another
  // start time, so judged by pid alone its instance would look like a leftover.
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', 'sleep', '600'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const inner = await waitingFor('unshare --pid --fork to start sleep in a new pid namespace', async (signal) => {
      while (!signal.aborted) {
        const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
        const ns = kids === '' ? undefined : pidNamespaceOf(Number(kids.split(' ')[0]));
        if (ns !== undefined && ns !== ownNs) return ns;
        await new Promise((r) => setTimeout(r, 20));
      }
      return '';
    });
    await withTraceLock(async () => {
      const theirs = join(root, 'instances', `memlens-${inner}-1-1`);
      const ours = join(root, 'instances', instanceName());
      const oursDead = join(root, 'instances', `memlens-${ownNs}-4194304-123`);
      for (const d of [theirs, ours, oursDead]) mkdirSync(d);
      try {
        const removed = removeLeftovers(root);
        assert.ok(removed.includes(`memlens-${ownNs}-4194304-123`), removed.join(' '));
        assert.ok(existsSync(theirs), 'the live namespace keeps its instance');
        assert.ok(existsSync(ours), 'this run keeps its own');
        // unshare dies, --kill-child takes sleep with it, and a pid namespace ends with its init.
        child.kill('SIGKILL');
        await waitingFor(
          `the instance of pid namespace ${inner} to be removed once it has no process`,
          async (signal) => {
            while (!signal.aborted && existsSync(theirs)) {
              removeLeftovers(root);
              await new Promise((r) => setTimeout(r, 50));
            }
            assert.ok(existsSync(ours), 'this run keeps its own');
          },
        );
      } finally {
        for (const d of [theirs, ours, oursDead]) removeInstance(d);
      }
    });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});
