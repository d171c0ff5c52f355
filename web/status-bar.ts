// The strip at the top that always says what state the data is in: connection, tracer, lost
// events, how old the /proc sample is, how many PSS figures are missing, how many calls are stored.
import type { StatusBody } from '../src/wire/messages.js';
import { byId, setText } from './dom.js';
import { ageText, bytesText, countText } from './format.js';
import type { ConnectionState } from './live.js';
import type { PssNaCounts } from './views/processes.js';
import { NA_REASON_TEXT } from './views/processes.js';

function setBadge(id: string, text: string, level: 'ok' | 'warn' | 'bad' | 'info', title = ''): void {
  const node = byId(id);
  setText(node, text);
  node.className = `badge ${level}`;
  node.title = title;
}

export class StatusBar {
  private status: StatusBody | null = null;
  /** Difference between the server's clock and ours, so ages are right even if clocks differ. */
  private skewMs = 0;
  /** What the processes table's PSS cells show: the strip counts the same rows. */
  private pss: PssNaCounts | null = null;

  setPssCounts(c: PssNaCounts): void {
    this.pss = c;
    this.renderPss();
  }

  private renderPss(): void {
    const c = this.pss;
    if (c === null) return;
    const why = Object.entries(c.byReason).map(
      ([k, n]) =>
        `${countText(n)} ${k === 'not-sampled' ? 'new since the last sample' : NA_REASON_TEXT[k as keyof typeof NA_REASON_TEXT]}`,
    );
    const text =
      c.na === 0
        ? `PSS for all ${countText(c.shown)} shown`
        : `PSS n/a for ${countText(c.na)} of ${countText(c.shown)} shown${why.length > 0 ? `: ${why.join(', ')}` : ''}`;
    setBadge(
      'st-pss',
      text,
      c.na > 0 ? 'warn' : 'ok',
      'Counted over the rows the processes table shows. PSS needs smaps_rollup (root or the same user); a process started after the last /proc sample has none until the next one; an exited process has none.',
    );
  }

  set(s: StatusBody): void {
    this.status = s;
    this.skewMs = s.serverTimeMs - Date.now();
    this.render();
  }

  connection(state: ConnectionState): void {
    setBadge(
      'st-conn',
      state === 'live' ? 'live' : state,
      state === 'live' ? 'ok' : 'warn',
      'WebSocket connection to memlens serve',
    );
  }

  serverNow(): number {
    return Date.now() + this.skewMs;
  }

  render(): void {
    const s = this.status;
    if (s === null) return;
    const now = this.serverNow();
    const t = s.tracing;
    if (t.state === 'running')
      setBadge('st-trace', `tracing (${t.backend})`, 'ok', `since ${new Date(t.sinceMs).toLocaleTimeString()}`);
    else setBadge('st-trace', `tracing ${t.state}`, 'warn', t.reason);
    const lost = s.lost.lostEvents + s.lost.unpaired + s.lost.malformed;
    setBadge(
      'st-lost',
      `lost ${countText(s.lost.lostEvents)} · unpaired ${countText(s.lost.unpaired)} · malformed ${countText(s.lost.malformed)}`,
      lost > 0 ? 'bad' : 'ok',
      'Events the kernel dropped, calls without both halves, records that could not be decoded',
    );
    const sm = s.sampler;
    if (sm.error !== null) setBadge('st-sample', `sampler: ${sm.error}`, 'bad', sm.error);
    else if (sm.lastSampleMs === null) setBadge('st-sample', 'no /proc sample yet', 'warn');
    else {
      const age = now - sm.lastSampleMs;
      const stale = age > 3 * Math.max(sm.intervalMs, 1000);
      setBadge(
        'st-sample',
        `sampled ${ageText(age)} ago · every ${ageText(sm.intervalMs)}`,
        stale ? 'warn' : 'ok',
        `Each /proc sample cost ${sm.lastCostMs === null ? 'n/a' : `${sm.lastCostMs.toFixed(0)} ms`} of CPU; the interval keeps the sampler within ${(sm.cpuBudget * 100).toFixed(1)} % of one core.`,
      );
    }
    this.renderPss();
    setBadge('st-store', `${countText(s.storedEvents)} calls stored`, 'info', s.store);
    setText(
      byId('st-total'),
      `MemTotal ${bytesText(s.memTotalBytes)} + SwapTotal ${bytesText(s.swapTotalBytes)} = ${bytesText(s.totalVirtualBytes)}`,
    );
  }
}
