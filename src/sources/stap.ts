// Reads the output of tracing/memlens.stp from a file or from standard input ('-'), as in
// `stap memlens.stp | memlens trace --from-stap -`. SystemTap itself is run by the user: it
// builds a kernel module, which memlens does not do.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { ParseError, UserError, errnoCode } from '../base/errors.js';
import { StapOutputParser } from '../parsers/stap.js';
import type { LostCounts, TraceBatch } from '../wire/events.js';
import { ReorderQueue } from './reorder-queue.js';
import type { TraceBackend, TraceBackendOptions } from './trace-backend.js';
import { TraceFilter } from './trace-filter.js';

const TICK_MS = 50;

export function createStapBackend(input: string, options: TraceBackendOptions): TraceBackend {
  const fromStdin = input === '-';
  const source = fromStdin ? 'SystemTap output on standard input' : input;
  const parser = new StapOutputParser(options.host, source);
  // memlens itself can only be in the trace when it reads a live pipe on the traced machine.
  const filter = new TraceFilter(
    options.pids,
    fromStdin && options.excludeSelf ? [process.pid] : [],
    options.followForks === true,
  );
  let stream: Readable | undefined;
  let tick: NodeJS.Timeout | undefined;
  let stopped = false;
  const assembler = new ReorderQueue({
    filter,
    // SystemTap's per-CPU output is merged by its transport; a generous window keeps order.
    reorderWindowNs: 200_000_000n,
    maxHeldEvents: 200_000,
    onPressure: (pause) => (pause ? stream?.pause() : stream?.resume()),
  });

  const end = (): void => {
    if (tick !== undefined) clearInterval(tick);
    tick = undefined;
  };

  const feed = (f: () => void): void => {
    try {
      f();
    } catch (e) {
      end();
      stream?.destroy();
      assembler.fail(
        e instanceof ParseError ? new UserError(e.message) : e instanceof Error ? e : new Error(String(e)),
      );
    }
  };

  return {
    name: 'stap',

    async start(): Promise<void> {
      const s = fromStdin ? process.stdin : createReadStream(input);
      stream = s;
      if (!fromStdin) {
        await new Promise<void>((resolve, reject) => {
          s.once('open', () => resolve());
          s.once('error', (e: Error) => {
            const code = errnoCode(e);
            reject(
              new UserError(
                `cannot read ${input}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? e.message)}`,
              ),
            );
          });
        });
      }
      s.on('data', (chunk: Buffer | string) =>
        feed(() => assembler.add(parser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk))),
      );
      s.on('end', () =>
        feed(() => {
          assembler.add(parser.end());
          // Nothing at all: not even the header that memlens.stp prints first (stap failed to start?).
          if (!parser.started)
            throw new ParseError(
              'empty: not memlens.stp output, whose first line is its header "#memlens-stap 1" (did stap fail to start?)',
              source,
            );
          end();
          assembler.finish();
        }),
      );
      s.on('error', (e: Error) => {
        end();
        assembler.fail(new UserError(`reading ${source}: ${e.message}`));
      });
      tick = setInterval(() => assembler.tick(), TICK_MS);
    },

    batches(): AsyncIterable<TraceBatch> {
      return assembler.batches();
    },

    stop(): Promise<void> {
      if (stopped) return Promise.resolve();
      stopped = true;
      end();
      if (stream !== undefined) {
        stream.removeAllListeners('data');
        if (fromStdin) stream.pause();
        else stream.destroy();
      }
      assembler.add(parser.end());
      assembler.finish();
      return Promise.resolve();
    },

    lost(): LostCounts {
      return assembler.lost(parser.malformed);
    },
  };
}
