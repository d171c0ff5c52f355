// While tracing, the runtime's background threads run at the weakest priority and the main thread
// keeps its own: read back from /proc/self/task/TID/stat (field 19, nice).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { lowerBackgroundThreads } from '../../src/sources/own-threads.js';

function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  // Fields after "pid (comm) ": state is field 3, nice is field 19.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

test('lowerBackgroundThreads: every thread but the main one at nice 19', async () => {
  const before = niceOf(process.pid);
  const lowered = await lowerBackgroundThreads();
  const others = readdirSync('/proc/self/task')
    .map(Number)
    .filter((t) => t !== process.pid);
  assert.ok(others.length > 0, 'Node runs background threads');
  assert.equal(lowered, others.length);
  for (const tid of others) assert.equal(niceOf(tid), 19, `thread ${tid}`);
  assert.equal(niceOf(process.pid), before);
});
