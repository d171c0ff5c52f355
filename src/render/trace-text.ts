// How `memlens trace` shows events as they happen: one line per call, like the snoop tools,
// and the per-process summary at the end.
import { formatBytes } from '../base/units.js';
import type { AccountRow } from '../analyses/trace/process-accounts.js';
import type { LostCounts, MemEvent } from '../wire/events.js';
import { protText } from '../wire/events-text.js';
import { printable } from '../base/terminal-text.js';
import { table, type Palette } from './text.js';

const hex = (v: bigint) => `0x${BigInt.asUintN(64, v).toString(16)}`;

const pad2 = (n: number) => String(n).padStart(2, '0');
function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function args(e: MemEvent): string {
  switch (e.call) {
    case 'mmap':
      return `addr=${hex(e.addr)} len=${e.lengthBytes} prot=${protText(e.prot ?? 0)} flags=0x${(e.flags ?? 0).toString(16)} fd=${e.fd ?? -1}`;
    case 'munmap':
      return `addr=${hex(e.addr)} len=${e.lengthBytes}`;
    case 'brk':
      return `brk=${hex(e.addr)}`;
    case 'mremap':
      return `addr=${hex(e.addr)} old_len=${e.lengthBytes} new_len=${e.newLengthBytes ?? 0n} flags=0x${(e.flags ?? 0).toString(16)}${e.newAddr === null ? '' : ` new_addr=${hex(e.newAddr)}`}`;
    case 'mprotect':
      return `addr=${hex(e.addr)} len=${e.lengthBytes} prot=${protText(e.prot ?? 0)}`;
  }
}

export const HEADER = `${'TIME'.padEnd(12)} ${'PID'.padStart(7)} ${'TID'.padStart(7)} ${'NAME'.padEnd(15)} ${'THREAD'.padEnd(15)} ${'CALL'.padEnd(8)} ARGS = RESULT`;

export function eventLine(e: MemEvent, p: Palette): string {
  const result =
    e.error === null
      ? e.call === 'munmap' || e.call === 'mprotect'
        ? '0'
        : hex(e.result)
      : p.red(`${e.result} ${e.error}`);
  return `${clock(e.timeMs)} ${String(e.pid).padStart(7)} ${String(e.tid).padStart(7)} ${printable(e.name).padEnd(15)} ${printable(e.thread).padEnd(15)} ${e.call.padEnd(8)} ${args(e)} = ${result}`;
}

const percent = (x: number | null) => (x === null ? '-' : `${x < 0.01 && x > 0 ? '<0.01' : x.toFixed(2)}%`);

export function summaryText(
  rows: AccountRow[],
  totalVirtualBytes: bigint,
  lost: LostCounts,
  limit: number,
  p: Palette,
): string {
  const shown = rows.slice(0, limit);
  const body = table(
    [
      ['PID', 'NAME', 'CALLS', 'FAILED', 'REQUESTED', '%VM', 'RESERVED', 'MAPPED NOW'],
      ...shown.map((r) => [
        String(r.pid),
        printable(r.name),
        String(r.calls),
        String(r.failedCalls),
        formatBytes(Number(r.requestedBytes)),
        percent(r.requestedPercent),
        formatBytes(Number(r.reservedBytes)),
        r.exited ? 'exited' : `${r.modelComplete ? '' : '≥'}${formatBytes(Number(r.mappedNowBytes ?? 0n))}`,
      ]),
    ],
    ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  const lines = [
    p.bold('Per process'),
    body,
    rows.length > limit ? `(${rows.length - limit} more processes; --json gives them all)` : '',
    `MAPPED NOW = the address space kept from the calls, seeded from /proc/PID/maps (≥: started after exec, so a lower bound) = REQUESTED + RESERVED.`,
    `RESERVED = mapped with PROT_NONE (no access, never backed by memory); REQUESTED = mapped with access (mmap, or mprotect of a reservation); of an exited process: at its exit.`,
    `%VM = REQUESTED as a percent of total virtual memory, MemTotal + SwapTotal = ${formatBytes(Number(totalVirtualBytes))}.`,
    lostLine(lost, p),
    // A dropped event belongs to no known process (the kernel counts drops per CPU), so any row may
    // miss calls: said once here rather than guessed per row.
    lost.lostEvents > 0 ? p.red('The kernel dropped events: the figures above miss the calls they held.') : '',
  ];
  return lines.filter((l) => l !== '').join('\n');
}

export function lostLine(lost: LostCounts, p: Palette): string {
  const text = `lost events: ${lost.lostEvents}   unpaired calls: ${lost.unpaired}   malformed records: ${lost.malformed}`;
  return lost.lostEvents > 0 ? p.red(text) : text;
}
