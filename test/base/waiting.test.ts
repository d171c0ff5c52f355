// The tests' own wait helper: a wait that never settles fails after its bound, naming what it
// waited for, and tells its body to stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WaitBoundExceeded, waitingFor } from '../helpers/waiting.js';

test('a wait past its bound fails naming what it waited for, and aborts its body', async () => {
  let seen: AbortSignal | undefined;
  await assert.rejects(
    waitingFor(
      'a condition that never comes',
      (signal) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      },
      50,
    ),
    (e: unknown) => e instanceof WaitBoundExceeded && /waiting for: a condition that never comes/.test(e.message),
  );
  assert.equal(seen?.aborted, true);
});

test('a wait that settles in time gives its value', async () => {
  assert.equal(await waitingFor('a value', () => Promise.resolve(7), 60_000), 7);
});
