// Per-process figures kept from the traced events, for any backend, all from the address-space
// model (memory-model.ts), seeded from /proc/PID/maps at start, copied on fork, reset on exec:
//  (a) reserved: bytes mapped with PROT_NONE: address space held but never usable, so never
//      backed by memory or swap (V8 and Chromium reserve tens of GiB this way);
//  (b) requested: bytes mapped with some access (mmap'd accessible, or made so by mprotect);
//  (c) mapped now: reserved + requested, everything mapped; comparable with VmSize. This is what
//      "Σ mmap − Σ munmap" approximates, without counting MAP_FIXED replacements twice.
// Percentages are of the system's total virtual memory, MemTotal + SwapTotal; the share of a
// process is its requested bytes only: reserved address space takes none of that memory.
// When a process exits its model is dropped; its last reserved and requested figures are kept.
import type { LifecycleEvent, MemEvent, TraceBatch } from '../../wire/events.js';
import type { ProcessSeed } from '../../parsers/trace/seed.js';
import { ProcessMemoryModel } from './memory-model.js';

export interface ProcessAccount {
  pid: number;
  name: string;
  /** Reserved and requested bytes when the model was dropped at exit (the model's figures before). */
  lastReservedBytes: bigint;
  lastRequestedBytes: bigint;
  /** null when the process exited (its mappings are gone) or was never modelled. */
  model: ProcessMemoryModel | null;
  exited: boolean;
  calls: number;
  failedCalls: number;
}

export interface AccountRow {
  pid: number;
  name: string;
  calls: number;
  failedCalls: number;
  /** Bytes mapped with PROT_NONE (at exit, for a process that exited). */
  reservedBytes: bigint;
  /** Bytes mapped with some access (at exit, for a process that exited). */
  requestedBytes: bigint;
  /** requestedBytes as a percentage of MemTotal + SwapTotal. */
  requestedPercent: number;
  /** reserved + requested; null for a process that exited. */
  mappedNowBytes: bigint | null;
  mappedNowPercent: number | null;
  /** false when the model did not start from a full picture (after exec, or a process never seeded). */
  modelComplete: boolean;
  exited: boolean;
}

export class ProcessAccounts {
  private readonly accounts = new Map<number, ProcessAccount>();
  /** Pids whose account changed since takeChanged() (null: nobody asks, nothing is noted). */
  private changed: Set<number> | null = null;

  constructor(readonly pageSize: bigint) {}

  /**
   * From now on, note which accounts change, for takeChanged(): a reader that keeps figures of its
   * own (the dashboard's table of traced processes) then updates only those.
   */
  trackChanges(): void {
    this.changed ??= new Set();
  }

  /** The pids whose account was created or changed since the last call (after trackChanges()). */
  takeChanged(): Set<number> {
    const c = this.changed ?? new Set<number>();
    if (this.changed !== null) this.changed = new Set();
    return c;
  }

  /** Every account, exited ones too. */
  all(): IterableIterator<ProcessAccount> {
    return this.accounts.values();
  }

  private account(pid: number, name: string): ProcessAccount {
    this.changed?.add(pid);
    let a = this.accounts.get(pid);
    if (!a) {
      const model = new ProcessMemoryModel(this.pageSize);
      model.complete = false;
      a = { pid, name, lastReservedBytes: 0n, lastRequestedBytes: 0n, model, exited: false, calls: 0, failedCalls: 0 };
      this.accounts.set(pid, a);
    }
    return a;
  }

  get(pid: number): ProcessAccount | undefined {
    return this.accounts.get(pid);
  }

  /** Seeds models; the accounts only show up in summaries once a call was seen. */
  seed(seeds: Iterable<ProcessSeed>): void {
    for (const s of seeds) {
      const a = this.account(s.pid, s.name);
      a.model ??= new ProcessMemoryModel(this.pageSize);
      a.model.seed(s.ranges, s.brk, s.reserved);
    }
  }

  applyEvent(e: MemEvent): void {
    const a = this.account(e.pid, e.name);
    if (a.exited) {
      // A pid reused after its process exited: a new process.
      a.exited = false;
      a.lastReservedBytes = 0n;
      a.lastRequestedBytes = 0n;
      a.model = new ProcessMemoryModel(this.pageSize);
      a.model.complete = false;
    }
    a.name = e.name;
    a.calls++;
    if (e.error !== null) a.failedCalls++;
    a.model?.apply(e);
  }

  applyLifecycle(l: LifecycleEvent): void {
    switch (l.kind) {
      case 'fork': {
        if (l.isThread) return;
        // kernel/fork.c dup_mmap(): the child starts with a copy of its parent's address space.
        const parent = this.accounts.get(l.parentPid);
        const child = this.account(l.childPid, l.name);
        child.exited = false;
        child.lastReservedBytes = 0n;
        child.lastRequestedBytes = 0n;
        child.calls = 0;
        child.failedCalls = 0;
        child.model = parent?.model?.clone() ?? null;
        if (!child.model) {
          child.model = new ProcessMemoryModel(this.pageSize);
          child.model.complete = false;
        }
        return;
      }
      case 'exec': {
        const a = this.account(l.pid, l.name);
        a.name = l.name;
        a.model ??= new ProcessMemoryModel(this.pageSize);
        a.model.reset();
        return;
      }
      case 'rename': {
        const a = this.accounts.get(l.pid);
        if (a && l.pid === l.tid) {
          a.name = l.newName;
          this.changed?.add(l.pid);
        }
        return;
      }
      case 'exit': {
        const a = this.accounts.get(l.pid);
        if (!a) return;
        this.changed?.add(l.pid);
        a.exited = true;
        a.lastReservedBytes = a.model?.reservedBytes ?? 0n;
        a.lastRequestedBytes = a.model?.requestedBytes ?? 0n;
        a.model = null;
        return;
      }
    }
  }

  /** Applies a batch, events and lifecycle interleaved by kernel timestamp. */
  apply(batch: TraceBatch): void {
    const { events, lifecycle } = batch;
    let i = 0;
    let j = 0;
    while (i < events.length || j < lifecycle.length) {
      const e = events[i];
      const l = lifecycle[j];
      if (e && (!l || e.ktimeNs < l.ktimeNs)) {
        this.applyEvent(e);
        i++;
      } else if (l) {
        this.applyLifecycle(l);
        j++;
      }
    }
  }

  /**
   * Rows for every process that made at least one call (with `quietToo`, also for every live
   * process modelled from its seed that made none), largest mapped-now first.
   */
  rows(totalVirtualBytes: bigint, quietToo = false): AccountRow[] {
    const pct = (b: bigint) => (totalVirtualBytes > 0n ? (Number(b) * 100) / Number(totalVirtualBytes) : 0);
    const rows: AccountRow[] = [];
    for (const a of this.accounts.values()) {
      if (a.calls === 0 && !(quietToo && !a.exited && a.model?.complete === true)) continue;
      const model = a.exited ? null : a.model;
      const requested = model ? model.requestedBytes : a.lastRequestedBytes;
      const mapped = model ? model.space.mappedBytes : null;
      rows.push({
        pid: a.pid,
        name: a.name,
        calls: a.calls,
        failedCalls: a.failedCalls,
        reservedBytes: model ? model.reservedBytes : a.lastReservedBytes,
        requestedBytes: requested,
        requestedPercent: pct(requested),
        mappedNowBytes: mapped,
        mappedNowPercent: mapped === null ? null : pct(mapped),
        modelComplete: a.model?.complete ?? false,
        exited: a.exited,
      });
    }
    return rows.sort(
      (x, y) =>
        Number((y.mappedNowBytes ?? -1n) - (x.mappedNowBytes ?? -1n)) ||
        Number(y.requestedBytes - x.requestedBytes) ||
        x.pid - y.pid,
    );
  }
}
