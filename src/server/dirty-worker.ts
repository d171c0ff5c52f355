// The dashboard's dirty-pages watch runs in a thread of its own. Reading a process's pagemap and
// building its ranges is synchronous work that grows with the process (some 45 to 150 ms per GiB
// mapped on the benchmark machine, bench/README.md "pagemap scan rate"; hundreds of thousands of
// ranges when writes are scattered); on the server's thread it would stall every HTTP answer and
// WebSocket update meanwhile. Here it runs the analysis's own watch() and posts each round, cut
// down to what the page shows, so that only small messages cross to the server.
import { parentPort, workerData } from 'node:worker_threads';
import { AccessedMeter, SoftDirtyMeter, type Meter, type RoundReading } from '../analyses/dirty/meters.js';
import { isSteady } from '../analyses/dirty/convergence.js';
import { watch } from '../analyses/dirty/watch.js';
import {
  hugeAreasJson,
  largestInAddressOrder,
  pagesByMapping,
  rangeJson,
  roundJson,
  touchedAreaJson,
} from '../analyses/dirty/wire.js';
import { ProcessGoneError } from '../base/errors.js';
import { ProcessPages } from '../sources/pagemap.js';
import { openLiveProcSource } from '../sources/procfs.js';
import type { HugePageAreaJson } from '../wire/dirty.js';
import type { DirtyWorkerInit, FromDirtyWorker, RoundView, ToDirtyWorker } from './dirty-protocol.js';

const port = parentPort;
if (port === null) throw new Error('dirty-worker.js runs as a worker thread only');
const post = (m: FromDirtyWorker): void => port.postMessage(m);
const init = workerData as DirtyWorkerInit;
const abort = new AbortController();
// The only message there is: stop (the watch ends at its next step, as `memlens dirty` on Ctrl-C).
const onMessage = (_m: ToDirtyWorker): void => abort.abort();
port.on('message', onMessage);

/** The verdict needs the newest stableRounds + 1 counts; the server keeps the series itself. */
const KEEP_ROUNDS = 16;

function view(reading: RoundReading): RoundView {
  const ranges = reading.dirty?.ranges ?? [];
  const fresh = reading.dirty?.newMappingRanges ?? [];
  const areas = reading.touched?.areas ?? [];
  return {
    ranges: largestInAddressOrder(ranges, init.rangesSent).map(rangeJson),
    rangesTotal: ranges.length,
    newMappingRanges: largestInAddressOrder(fresh, init.rangesSent).map(rangeJson),
    newMappingRangesTotal: fresh.length,
    areas: largestInAddressOrder(areas, init.rangesSent).map(touchedAreaJson),
    areasTotal: areas.length,
    byMapping: pagesByMapping(reading),
  };
}

const target = new ProcessPages(openLiveProcSource(), init.pid, init.pageSize);

async function hugeAreasNow(): Promise<HugePageAreaJson[]> {
  try {
    return hugeAreasJson(await target.smaps());
  } catch (e) {
    if (e instanceof ProcessGoneError) return [];
    throw e;
  }
}

let meter: Meter | undefined;
let previousPages: number | undefined;
let steadyRounds = 0;
try {
  post({ type: 'started', hugePageAreas: await hugeAreasNow() });
  meter = init.method === 'accessed' ? new AccessedMeter(target) : new SoftDirtyMeter(target);
  const result = await watch({
    meter,
    intervalMs: init.intervalMs,
    rule: init.rule,
    untilStable: init.untilStable,
    maxRounds: init.rule.maxRounds,
    signal: abort.signal,
    keepRounds: KEEP_ROUNDS,
    onRound: (round, verdict, reading) => {
      // Steady rounds in a row, by the rule's own test (the verdict counts them only while running).
      steadyRounds =
        previousPages !== undefined && isSteady(previousPages, round.pages, init.rule) ? steadyRounds + 1 : 0;
      previousPages = round.pages;
      post({
        type: 'round',
        round: roundJson(round, init.pageSize),
        atMs: Date.now(),
        verdict,
        steadyRounds,
        view: view(reading),
      });
    },
  });
  post({ type: 'ended', stopReason: result.stopReason, verdict: result.verdict });
} catch (e) {
  // Gone before the first round began (opening its pagemap): a watch that ended, not a failure.
  if (e instanceof ProcessGoneError)
    post({ type: 'ended', stopReason: 'exited', verdict: { state: 'running', steadyRun: 0 } });
  else post({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
} finally {
  meter?.close();
  // Nothing left to listen for: the thread ends once its last messages are on their way.
  port.off('message', onMessage);
}
