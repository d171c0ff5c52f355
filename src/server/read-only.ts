// `memlens serve --from ARCHIVE`: the dashboard over a capture archive (one snapshot, or a series
// written by `memlens capture --every … --for …`), read-only. Each snapshot is replayed at start
// into what the live server fills as it samples: the live state (processes table, ledger, the
// per-process histories of the detail view and the sparklines) and the /proc history of the
// Timeline, in a temporary SQLite store removed at close. Nothing is sampled or traced then, and
// the status says which archive is shown (StatusBody.readOnly); the history's "now" is the end
// of the series, so the Timeline's windows fall on the series' own time range.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStartTicks } from '../analyses/series-diff.js';
import { collectSnapshot } from '../analyses/snapshot.js';
import { UserError } from '../base/errors.js';
import { SeriesClock } from '../parsers/archive-meta.js';
import type { CaptureArchive } from '../parsers/archive.js';
import { archiveSource, loadArchiveSeries } from '../sources/archive.js';
import type { ProcSource } from '../sources/proc-source.js';
import { DEFAULT_HISTORY_RETENTION, openStore } from '../store/index.js';
import type { ReadOnlyArchive } from '../wire/messages.js';
import { historySampleFromSnapshot } from './adapters/history-sample.js';
import { sampleFromSnapshot } from './adapters/snapshot-sample.js';
import { HistoryRecorder } from './history-recorder.js';
import type { MappingsReader } from './inputs.js';
import { mappingsReader } from './mappings-reader.js';
import { LiveState } from './live-state.js';
import { initialSamplerState } from './sampler.js';

/** Pending history rows are written every this many snapshots, so a long series is not held in memory. */
const FLUSH_EVERY_SNAPSHOTS = 30;

export interface ReplayedArchive {
  state: LiveState;
  history: HistoryRecorder;
  readOnly: ReadOnlyArchive;
  readMappings: MappingsReader;
  /** Closes the history and the temporary store, and removes it. */
  close(): Promise<void>;
}

/** The detail view's mappings, from the last snapshot's smaps (a series keeps none unless --smaps). */
function mappingsFrom(source: ProcSource): MappingsReader {
  return mappingsReader(source, {
    permission: 'smaps was not readable when the archive was captured',
    missing: 'the archive has no smaps of this process (captured with --no-smaps, the default of a series)',
  });
}

export async function replayArchive(path: string, log: (line: string) => void): Promise<ReplayedArchive> {
  const dir = await mkdtemp(join(tmpdir(), 'memlens-serve-from-'));
  const store = await openStore(`sqlite:${join(dir, 'history.sqlite')}`).catch(async (e: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  const label = path === '-' ? 'standard input' : (path.split('/').pop() ?? path);
  const clock = new SeriesClock();
  let replayed: { state: LiveState; history: HistoryRecorder; host: string } | null = null;
  let firstMs = 0;
  let lastMs = 0;
  let lastSource: ProcSource | null = null;
  const cleanUp = async (): Promise<void> => {
    await replayed?.history.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const replay = async (archive: CaptureArchive): Promise<void> => {
      const atMs = clock.timeMs(archive);
      if (atMs === undefined)
        throw new UserError(`snapshot ${archive.index} of ${label} does not record when it was captured`);
      const source = archiveSource(archive, `${label} (snapshot ${archive.index})`);
      const collected = await collectSnapshot(source);
      // The series' clock (wall clock of the first, uptime since), finer than each one's seconds.
      const snap = { ...collected, time: new Date(atMs) };
      const starts = await readStartTicks(
        source,
        snap.processes.map((p) => p.pid),
      );
      if (replayed === null) {
        const host = snap.host;
        const state = new LiveState({ host });
        state.setTracing({ state: 'disabled', reason: `read-only: ${label} is a capture archive` });
        const history = new HistoryRecorder(store.history, host, {
          retention: DEFAULT_HISTORY_RETENTION,
          log,
          nowMs: () => lastMs,
        });
        replayed = { state, history, host };
        firstMs = atMs;
      }
      lastMs = Math.max(lastMs, atMs);
      const s = sampleFromSnapshot(snap, starts);
      replayed.state.applySample(s);
      replayed.history.record(historySampleFromSnapshot(snap, (pid) => starts.get(pid)));
      lastSource = source;
      if ((archive.index + 1) % FLUSH_EVERY_SNAPSHOTS === 0) await replayed.history.flush();
    };
    // A function, so that the checker does not take the variables for the null they started as.
    const outcome = (): { state: LiveState; history: HistoryRecorder; host: string; source: ProcSource } => {
      if (replayed === null || lastSource === null) throw new UserError(`${label} holds no snapshot`);
      return { ...replayed, source: lastSource };
    };
    const { summary } = await loadArchiveSeries(path, replay);
    const r = outcome();
    await r.history.flush();
    const readOnly: ReadOnlyArchive = {
      archive: label,
      host: r.host,
      snapshots: summary.snapshots,
      truncated: summary.truncated,
      fromMs: firstMs,
      toMs: lastMs,
    };
    r.state.setSampler({
      ...initialSamplerState(),
      lastSampleMs: lastMs,
      processes: r.state.latestSample?.processes.length ?? 0,
    });
    if (summary.truncated > 0)
      log(`${label}: the archive ends inside a snapshot (the capture was cut short); that snapshot is skipped`);
    return {
      state: r.state,
      history: r.history,
      readOnly,
      readMappings: mappingsFrom(r.source),
      close: cleanUp,
    };
  } catch (e) {
    await cleanUp();
    throw e;
  }
}
