// Reads `bpftrace -f json tracing/memlens.bt` output: one JSON object per line,
// {"type": ..., "data": ...} (bpftrace src/output.cpp, JsonOutput). The script prints each
// completed call and each lifecycle event as a tuple, {"type": "value", "data": [...]}; the
// tuple layouts are documented at the top of tracing/memlens.bt. bpftrace reports its own
// losses as {"type": "lost_events", "data": {"events": N}}, and prints the script's maps when it
// stops: @unpaired (returns without an entry) and the entries still pending. The "S" tuple is a
// heartbeat; the first one says that every probe is attached (bpftrace's own "attached_probes"
// message comes before that).
// Unknown message types are ignored; lines that do not parse are skipped and counted.
import { ParseError } from '../base/errors.js';
import { isMemCall } from '../wire/events.js';
import { LineRecordParser } from './line-record-parser.js';
import { parseLosslessJson, type JsonValue } from './lossless-json.js';
import {
  buildMemEvent,
  PRINTED_ARG_COUNT,
  PRINTED_LIFECYCLE_FIELDS,
  printedCallArgs,
  printedLifecycle,
  type CallHead,
  type PrintedFields,
  type TracerLineRecord,
} from './trace-records.js';

export interface BpftraceParserOptions {
  host: string;
  /** Wall clock minus CLOCK_MONOTONIC, ns: bpftrace's nsecs is bpf_ktime_get_ns(). */
  wallOffsetNs: bigint;
}

/** Maps of memlens.bt that hold entries waiting for their return. */
const PENDING_MAPS = new Set(['@mmap', '@munmap', '@brk', '@mremap', '@mprotect']);

class BadRecord extends Error {}

function isObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: JsonValue | undefined): bigint {
  if (typeof v !== 'bigint') throw new BadRecord(`expected an integer, got ${typeof v}`);
  return v;
}

function id(v: JsonValue | undefined): number {
  const n = int(v);
  if (n <= 0n || n > 0x7fffffffn) throw new BadRecord('not a process or thread id');
  return Number(n);
}

function str(v: JsonValue | undefined): string {
  if (typeof v !== 'string') throw new BadRecord('expected a string');
  return v;
}

function count(v: JsonValue | undefined): number {
  const n = int(v);
  if (n < 0n) throw new BadRecord('negative count');
  return Number(n);
}

export class BpftraceOutputParser extends LineRecordParser {
  constructor(private readonly options: BpftraceParserOptions) {
    super();
  }

  protected line(bytes: Uint8Array, out: TracerLineRecord[]): void {
    // bpftrace separates sections with blank lines.
    if (bytes.every((b) => b === 0x20 || b === 0x0d || b === 0x09)) return;
    try {
      const msg = parseLosslessJson(bytes, 'bpftrace output');
      if (!isObject(msg)) throw new BadRecord('not an object');
      this.message(msg, out);
    } catch (e) {
      if (!(e instanceof BadRecord) && !(e instanceof ParseError)) throw e;
      this.skip(e.message);
    }
  }

  private message(msg: { [key: string]: JsonValue }, out: TracerLineRecord[]): void {
    const data = msg.data;
    switch (msg.type) {
      case 'lost_events':
        if (!isObject(data)) throw new BadRecord('lost_events without data');
        out.push({ kind: 'lost', count: count(data.events) });
        return;
      case 'map':
        if (!isObject(data)) throw new BadRecord('map without data');
        for (const [name, value] of Object.entries(data)) {
          if (name === '@unpaired') out.push({ kind: 'unpaired', count: count(value) });
          else if (PENDING_MAPS.has(name) && isObject(value))
            out.push({ kind: 'unpaired', count: Object.keys(value).length });
        }
        return;
      case 'value':
        if (!Array.isArray(data)) throw new BadRecord('value is not a tuple');
        out.push(this.tuple(data));
        return;
      default:
        return;
    }
  }

  private tuple(t: JsonValue[]): TracerLineRecord {
    const expect = (n: number): void => {
      if (t.length !== n) throw new BadRecord(`tuple of ${t.length} elements, expected ${n}`);
    };
    const kind = t[0];
    switch (kind) {
      case 'C': {
        const ktimeNs = int(t[2]);
        const head: CallHead = {
          ktimeNs,
          timeMs: Number((ktimeNs + this.options.wallOffsetNs) / 1_000_000n),
          host: this.options.host,
          pid: id(t[3]),
          tid: id(t[4]),
          name: str(t[5]),
          thread: str(t[6]),
        };
        const call = t[1];
        if (!isMemCall(call)) throw new BadRecord('unknown call');
        const n = PRINTED_ARG_COUNT[call];
        expect(8 + n);
        const args = printedCallArgs(call, (i) => int(t[7 + i]));
        return { kind: 'call', event: buildMemEvent(head, args, int(t[7 + n])) };
      }
      case 'F':
      case 'E':
      case 'X':
      case 'R': {
        expect(2 + PRINTED_LIFECYCLE_FIELDS[kind]);
        const fields: PrintedFields = {
          id: (i) => id(t[2 + i]),
          bits: (i) => int(t[2 + i]),
          text: (i) => str(t[2 + i]),
        };
        return { kind: 'lifecycle', event: printedLifecycle(kind, int(t[1]), fields) };
      }
      case 'S':
        expect(2);
        return { kind: 'heartbeat', ktimeNs: int(t[1]) };
      default:
        throw new BadRecord('unknown tuple');
    }
  }
}
