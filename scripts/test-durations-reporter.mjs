// A reporter for Node's test runner, added by scripts/run-tests.mjs beside TAP: it writes how long
// each test file took, in milliseconds (from its start to its end, its process's start-up
// included), keyed by the file's path, as one JSON object into the file MEMLENS_TEST_DURATIONS
// names. It prints nothing.
import { writeFileSync } from 'node:fs';

export default async function* durations(source) {
  const byFile = {};
  for await (const event of source) {
    // The runner reports each file as a test of its own, named by the file's path.
    const { file, name, nesting, details } = event.data;
    if (event.type !== 'test:complete' || nesting !== 0 || file === undefined || name !== file) continue;
    byFile[file] = details?.duration_ms ?? 0;
    // Written at once, each time: with --test-force-exit the runner may exit before an asynchronous
    // write, or the end of this loop, is reached.
    if (process.env.MEMLENS_TEST_DURATIONS) writeFileSync(process.env.MEMLENS_TEST_DURATIONS, JSON.stringify(byFile));
  }
  yield* [];
}
