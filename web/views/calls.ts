// The calls view: every recorded call, newest first. Older calls are fetched page by page from
// the store as the user scrolls (keyset paging: the server hands a cursor, never an offset), and
// only the rows on screen exist in the DOM (virtual scrolling), so millions of rows scroll
// smoothly. New calls arrive over the WebSocket and are prepended while the list is at its top;
// when the user has scrolled down, they are held back and counted instead, so rows do not move
// under the reader.
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import type { MemEventJson } from '../../src/wire/events.js';
import { MEM_CALLS } from '../../src/wire/events.js';
import type { CallFilter } from '../../src/wire/messages.js';
import { callMatches } from '../../src/wire/messages.js';
import type { CallQuery } from '../api.js';
import { api } from '../api.js';
import { byId, el, setText } from '../dom.js';
import { bytesText, countText, timeText } from '../format.js';

export const ROW_HEIGHT = 24;
const PAGE = 500;

export const callKey = (e: MemEventJson): string => `${e.ktime}:${e.tid}:${e.call}`;

export interface CallFilterState {
  pid?: number;
  name?: string;
  call?: string;
  fromMs?: number;
  toMs?: number;
}

/** The part of a filter the server applies to live calls (the time range is the page's). */
function liveFilterOf(f: CallFilterState): CallFilter {
  const live: CallFilter = {};
  if (f.pid !== undefined) live.pid = f.pid;
  if (f.name !== undefined && f.name !== '') live.name = f.name;
  if (f.call !== undefined && f.call !== '') live.call = f.call as CallFilter['call'];
  return live;
}

/** A virtual, keyset-paged list of calls, used by the calls view and by the process detail. */
export class CallList {
  private rows: MemEventJson[] = [];
  private keys = new Set<string>();
  private next: string | null = null;
  private loading = false;
  private generation = 0;
  private held: MemEventJson[] = [];
  private heldSkipped = 0;
  private readonly virtualizer: Virtualizer<HTMLElement, HTMLElement>;
  private readonly pool: HTMLElement[] = [];
  private filter: CallFilterState = {};
  private host: string | undefined;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly inner: HTMLElement,
    private readonly onInfo: (text: string) => void,
    private readonly onHeld: (n: number) => void,
  ) {
    this.virtualizer = new Virtualizer<HTMLElement, HTMLElement>({
      count: 0,
      getScrollElement: () => this.scroller,
      estimateSize: () => ROW_HEIGHT,
      overscan: 12,
      observeElementRect,
      observeElementOffset,
      scrollToFn: elementScroll,
      getItemKey: (i) => {
        const r = this.rows[i];
        return r === undefined ? `more-${i}` : callKey(r);
      },
      onChange: () => this.paint(),
    });
    this.virtualizer._didMount();
    this.virtualizer._willUpdate();
  }

  get length(): number {
    return this.rows.length;
  }

  private lastReloadMs = 0;
  private reloadTimer: number | null = null;

  /**
   * The server skipped calls: the newest page from the store is the truth. At most one reload a
   * second, so that a flood of calls does not turn into a flood of queries.
   */
  private reloadHead(): void {
    if (this.reloadTimer !== null) return;
    const wait = Math.max(0, 1000 - (Date.now() - this.lastReloadMs));
    this.reloadTimer = window.setTimeout(() => {
      this.reloadTimer = null;
      this.lastReloadMs = Date.now();
      void this.reset(this.filter, this.host, false);
    }, wait);
  }

  /** Starts over with a new filter: the newest page, then older pages on demand. */
  async reset(filter: CallFilterState, host: string | undefined, recount = true): Promise<void> {
    this.filter = filter;
    this.host = host;
    this.generation++;
    this.rows = [];
    this.keys.clear();
    this.next = null;
    this.held = [];
    this.heldSkipped = 0;
    this.onHeld(0);
    this.loading = false;
    this.scroller.scrollTop = 0;
    this.sync();
    await this.loadMore(true);
    if (recount) void this.countMatching();
  }

  private query(): CallQuery {
    const q: CallQuery = { host: this.host, limit: PAGE };
    if (this.filter.pid !== undefined) q.pid = this.filter.pid;
    if (this.filter.name !== undefined && this.filter.name !== '') q.name = this.filter.name;
    if (this.filter.call !== undefined && this.filter.call !== '') q.call = this.filter.call;
    if (this.filter.fromMs !== undefined) q.from = this.filter.fromMs;
    if (this.filter.toMs !== undefined) q.to = this.filter.toMs;
    return q;
  }

  private async countMatching(): Promise<void> {
    const gen = this.generation;
    try {
      const c = await api.eventCount(this.query());
      if (gen === this.generation) this.onInfo(`${countText(c.count)} calls stored match`);
    } catch (e) {
      this.onInfo(`count unavailable: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async loadMore(first = false): Promise<void> {
    if (this.loading || (!first && this.next === null)) return;
    this.loading = true;
    const gen = this.generation;
    try {
      const page = await api.events({ ...this.query(), ...(first || this.next === null ? {} : { before: this.next }) });
      if (gen !== this.generation) return;
      for (const r of page.rows) {
        const k = callKey(r);
        if (this.keys.has(k)) continue;
        this.keys.add(k);
        this.rows.push(r);
      }
      this.next = page.next;
    } catch (e) {
      this.onInfo(`could not load calls: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      if (gen === this.generation) this.loading = false;
    }
    this.sync();
  }

  /**
   * Whether a live call passes the whole filter. The server filters live calls by the subscription
   * too, but updates sent under the previous filter can still arrive after the list was reset for a
   * new one; unchecked, they would fill the top of a list that claims to be filtered.
   */
  private matches(e: MemEventJson): boolean {
    const t = Date.parse(e.time);
    if (this.filter.fromMs !== undefined && t < this.filter.fromMs) return false;
    if (this.filter.toMs !== undefined && t > this.filter.toMs) return false;
    return callMatches(e, liveFilterOf(this.filter));
  }

  /** New calls from the server, newest first. */
  addLive(calls: MemEventJson[], skipped: number): void {
    const fresh = calls.filter((c) => this.matches(c) && !this.keys.has(callKey(c)));
    if (this.scroller.scrollTop > ROW_HEIGHT) {
      this.held = [...fresh, ...this.held].slice(0, 10_000);
      this.heldSkipped += skipped;
      this.onHeld(this.held.length + this.heldSkipped);
      return;
    }
    if (skipped > 0) {
      // The server could not send them all: show what came now, then reload from the store.
      this.reloadHead();
    }
    for (const c of fresh) this.keys.add(callKey(c));
    this.rows = [...fresh, ...this.rows];
    this.sync();
  }

  /** Back to the top, showing what was held back. */
  showNewest(): void {
    if (this.heldSkipped > 0) {
      void this.reset(this.filter, this.host);
      return;
    }
    const fresh = this.held.filter((c) => !this.keys.has(callKey(c)));
    for (const c of fresh) this.keys.add(callKey(c));
    this.rows = [...fresh, ...this.rows];
    this.held = [];
    this.onHeld(0);
    this.scroller.scrollTop = 0;
    this.sync();
  }

  private sync(): void {
    this.virtualizer.setOptions({ ...this.virtualizer.options, count: this.rows.length + (this.next !== null ? 1 : 0) });
    this.virtualizer._willUpdate();
    this.virtualizer.measure();
    this.paint();
  }

  private rowElement(i: number): HTMLElement {
    let row = this.pool[i];
    if (row === undefined) {
      row = el('div', { class: 'vrow' });
      for (let c = 0; c < 7; c++) row.append(el('span', { class: `c${c}` }));
      this.pool[i] = row;
    }
    return row;
  }

  private paint(): void {
    const items = this.virtualizer.getVirtualItems();
    this.inner.style.height = `${this.virtualizer.getTotalSize()}px`;
    let used = 0;
    for (const item of items) {
      const row = this.rowElement(used++);
      row.style.transform = `translateY(${item.start}px)`;
      const r = this.rows[item.index];
      const cells = row.children;
      if (r === undefined) {
        row.classList.add('more');
        const texts = ['', '', 'loading older calls…', '', '', '', ''];
        texts.forEach((t, i) => {
          const cell = cells[i];
          if (cell !== undefined) setText(cell, t);
        });
        void this.loadMore();
      } else {
        row.classList.remove('more');
        row.classList.toggle('failed', r.error !== null);
        const texts = [timeText(Date.parse(r.time)), String(r.pid), r.name, r.call, r.call === 'brk' ? r.addr : bytesText(r.length), r.error ?? r.result, r.call === 'mremap' ? `→ ${bytesText(r.new_length)}` : r.fd !== null && r.fd >= 0 ? `fd ${r.fd}` : ''];
        texts.forEach((t, i) => {
          const cell = cells[i];
          if (cell !== undefined) setText(cell, t);
        });
        row.dataset.index = String(item.index);
      }
      if (row.parentNode !== this.inner) this.inner.append(row);
    }
    for (let i = used; i < this.pool.length; i++) this.pool[i]?.remove();
  }
}

/** The calls tab: a filter form above a CallList. */
export class CallsView {
  readonly list: CallList;
  private host: string | undefined;
  private filter: CallFilterState = {};

  constructor(private readonly onFilter: (f: CallFilter) => void) {
    const select = byId('calls-call', HTMLSelectElement);
    for (const c of MEM_CALLS) select.append(el('option', { value: c }, c));
    this.list = new CallList(
      byId('calls-scroll'),
      byId('calls-inner'),
      (t) => setText(byId('calls-info'), t),
      (n) => {
        const b = byId('calls-held', HTMLButtonElement);
        b.hidden = n === 0;
        setText(b, `${countText(n)} newer calls — show`);
      },
    );
    byId('calls-held', HTMLButtonElement).addEventListener('click', () => this.list.showNewest());
    byId('calls-form', HTMLFormElement).addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.apply();
    });
    byId('calls-clear', HTMLButtonElement).addEventListener('click', () => {
      byId('calls-form', HTMLFormElement).reset();
      this.apply();
    });
  }

  private readForm(): CallFilterState {
    const val = (id: string): string => {
      const node = byId(id);
      return node instanceof HTMLInputElement || node instanceof HTMLSelectElement ? node.value.trim() : '';
    };
    const f: CallFilterState = {};
    const pid = Number(val('calls-pid'));
    if (val('calls-pid') !== '' && Number.isInteger(pid) && pid > 0) f.pid = pid;
    if (val('calls-name') !== '') f.name = val('calls-name');
    if (val('calls-call') !== '') f.call = val('calls-call');
    const from = Date.parse(val('calls-from'));
    const to = Date.parse(val('calls-to'));
    if (!Number.isNaN(from)) f.fromMs = from;
    if (!Number.isNaN(to)) f.toMs = to;
    return f;
  }

  apply(): void {
    this.filter = this.readForm();
    this.onFilter(liveFilterOf(this.filter));
    void this.list.reset(this.filter, this.host);
  }

  liveFilter(): CallFilter {
    return liveFilterOf(this.filter);
  }

  setHost(host: string | undefined): void {
    this.host = host;
    void this.list.reset(this.filter, host);
  }
}
