// What `memlens trace` writes its events through (src/cli/trace/event-sink.ts): the WorkerWriter
// on the store named by --db, with one line on stderr when the database goes away and, at the end,
// where the events are kept if it is still away.
import type { LostCounts, MemEvent } from '../wire/events.js';
import { WorkerWriter } from './worker-writer.js';

export interface StoreSink {
  readonly description: string;
  write(events: readonly MemEvent[]): void;
  /** Adds the run's lost counts, writes what is left (or keeps it in the spill file) and closes. */
  close(host: string, lost: LostCounts): Promise<void>;
}

export async function openStoreSink(db: string | undefined, stderr: NodeJS.WritableStream = process.stderr): Promise<StoreSink> {
  const writer = await WorkerWriter.open(db);
  writer.onError = (e, failures) => {
    if (failures === 1) stderr.write(`memlens: database ${writer.description} unavailable (${e.message}); events are kept and written when it is back\n`);
  };
  return {
    description: `stored in ${writer.description}`,
    write: (events) => writer.write(events),
    close: async (host, lost) => {
      if (lost.lostEvents + lost.unpaired + lost.malformed > 0) writer.recordLost(host, lost);
      const result = await writer.close();
      if (!result.complete) stderr.write(`memlens: database ${writer.description} still unavailable; events kept in ${result.spillFiles.join(', ')} and written by the next memlens that stores there\n`);
    },
  };
}
