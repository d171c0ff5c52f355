// The sampler's interval counts the reads a sample skipped at what they last cost: skipping
// unchanged smaps_rollup files saves CPU and leaves the interval (the data's freshness) as it was.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SamplerState } from '../../src/wire/messages.js';
import { AdaptiveSampler } from '../../src/server/sampler.js';
import { waitingFor } from '../helpers/waiting.js';

async function firstState(savedCostMs: number | undefined): Promise<SamplerState> {
  const states: SamplerState[] = [];
  const sampler = new AdaptiveSampler({
    cpuBudget: 0.01,
    minIntervalMs: 1000,
    maxIntervalMs: 60_000,
    sample: () =>
      Promise.resolve({
        processes: 1,
        pssUnavailable: 0,
        pssDeferred: 1,
        atMs: Date.now(),
        ...(savedCostMs === undefined ? {} : { savedCostMs }),
      }),
    onState: (s) => states.push(s),
    onError: (e) => assert.fail(String(e)),
  });
  sampler.start();
  try {
    return await waitingFor('the first sample of the sampler', async (signal) => {
      while (!signal.aborted) {
        const s = states.find((x) => x.lastSampleMs !== null);
        if (s !== undefined) return s;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('aborted');
    });
  } finally {
    await sampler.stop();
  }
}

test('a skipped read counts toward the interval, not toward the cost shown', async () => {
  // 1 s of skipped reads under a 1 % budget asks for a 100 s pause: the 60 s maximum.
  const skipped = await firstState(1000);
  assert.equal(skipped.intervalMs, 60_000);
  assert.ok((skipped.lastCostMs ?? Infinity) < 1000, 'the cost shown is what the sample itself spent');
  // An empty sample costs far less than 600 ms of CPU: below the maximum.
  const plain = await firstState(undefined);
  assert.ok(plain.intervalMs < 60_000);
});
