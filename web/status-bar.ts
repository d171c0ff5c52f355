// The strip at the top that always says what state the data is in: connection, tracer, lost
// events, how old the /proc sample is, how many PSS figures are missing, how many calls are stored.
import type { StatusBody } from '../src/wire/messages.js';
import { byId, el, setText } from './dom.js';
import { ageText, bytesText, countText } from './format.js';
import type { ConnectionState } from './live.js';
import type { PssNaCounts } from './views/processes.js';
import { NA_REASON_TEXT } from './views/processes.js';

/**
 * A badge's text, level and tooltip. `short`: the wording of the narrow layout (web/narrow.ts),
 * where the strip keeps to one line. The full text stays the badge's text (what tests, screen
 * readers and a copy read) in a child span that the narrow layout hides, showing `short` through
 * CSS (data-short) instead; the tooltip then starts with the full text.
 */
function setBadge(id: string, text: string, level: 'ok' | 'warn' | 'bad' | 'info', title = '', short?: string): void {
  const node = byId(id);
  let full = node.firstElementChild;
  if (!(full instanceof HTMLSpanElement)) {
    full = el('span', { class: 'full' });
    node.replaceChildren(full);
  }
  setText(full, text);
  node.className = `badge ${level}`;
  if (short === undefined || short === text) {
    node.removeAttribute('data-short');
    node.title = title;
  } else {
    node.dataset.short = short;
    node.title = title === '' ? text : `${text}. ${title}`;
  }
}

export class StatusBar {
  constructor() {
    // The narrow layout hides MemTotal and the update number and shortens the badges: the strip's
    // tooltip has every item's full text, read when the pointer comes.
    const strip = byId('status');
    strip.addEventListener('mouseenter', () => {
      strip.title = [...strip.children]
        .map((c) => c.textContent.trim())
        .filter((t) => t !== '')
        .join(' · ');
    });
  }

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
      c.na === 0 ? `PSS for all ${countText(c.shown)}` : `PSS n/a: ${countText(c.na)} of ${countText(c.shown)}`,
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
      // Narrow: the counts that are not 0 (lost always).
      [
        `lost ${countText(s.lost.lostEvents)}`,
        ...(s.lost.unpaired > 0 ? [`${countText(s.lost.unpaired)} unpaired`] : []),
        ...(s.lost.malformed > 0 ? [`${countText(s.lost.malformed)} malformed`] : []),
      ].join(' · '),
    );
    const sm = s.sampler;
    const ro = s.readOnly;
    if (ro !== undefined && ro !== null) {
      const when = (ms: number): string => new Date(ms).toLocaleString();
      const text = `read-only: ${ro.archive} (${countText(ro.snapshots)} snapshot${ro.snapshots === 1 ? '' : 's'}, from ${when(ro.fromMs)} to ${when(ro.toMs)})`;
      setBadge(
        'st-sample',
        text,
        'info',
        `A capture archive of ${ro.host} (memlens serve --from): nothing is sampled or traced.${ro.truncated > 0 ? ' The archive ends inside a snapshot (the capture was cut short); that one is skipped.' : ''}`,
        `read-only: ${ro.archive}`,
      );
    } else if (sm.error !== null) setBadge('st-sample', `sampler: ${sm.error}`, 'bad', sm.error);
    else if (sm.lastSampleMs === null) setBadge('st-sample', 'no /proc sample yet', 'warn');
    else {
      const age = now - sm.lastSampleMs;
      const stale = age > 3 * Math.max(sm.intervalMs, 1000);
      setBadge(
        'st-sample',
        `sampled ${ageText(age)} ago · every ${ageText(sm.intervalMs)}`,
        stale ? 'warn' : 'ok',
        `Each /proc sample cost ${sm.lastCostMs === null ? 'n/a' : `${sm.lastCostMs.toFixed(0)} ms`} of CPU; the interval keeps the sampler within ${(sm.cpuBudget * 100).toFixed(1)} % of one core.`,
        `sampled ${ageText(age)} ago`,
      );
    }
    this.renderPss();
    setBadge(
      'st-store',
      `${countText(s.storedEvents)} calls stored`,
      'info',
      s.store,
      `${countText(s.storedEvents)} calls`,
    );
    const totalText = `MemTotal ${bytesText(s.memTotalBytes)} + SwapTotal ${bytesText(s.swapTotalBytes)} = ${bytesText(s.totalVirtualBytes)}`;
    const totalNode = byId('st-total');
    // Without swap the sum says nothing more: the shorter text leaves the strip room for the rest.
    setText(totalNode, s.swapTotalBytes === 0 ? `MemTotal ${bytesText(s.memTotalBytes)}, no swap` : totalText);
    totalNode.title = `${totalText}: the total the "% of total" column divides by`;
  }
}
