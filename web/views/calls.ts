// The calls view: every recorded call, newest first. Older calls are fetched page by page from
// the store as the user scrolls (keyset paging: the server hands a cursor, never an offset), and
// only the rows on screen exist in the DOM (virtual scrolling), so millions of rows scroll
// smoothly. New calls arrive over the WebSocket and are prepended while the list is at its top;
// when the user has scrolled down, they are held back and counted instead, so rows do not move
// under the reader.
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import type { MemEventJson } from '../../src/wire/events.js';
import { MEM_CALLS } from '../../src/wire/events.js';
import { addressText, flagsText, protText, resultText } from '../../src/wire/events-text.js';
import type { CallFilter } from '../../src/wire/messages.js';
import { callMatches } from '../../src/wire/messages.js';
import type { CallQuery } from '../api.js';
import { api } from '../api.js';
import { byId, el, setText } from '../dom.js';
import { bytesText, countText, timeText } from '../format.js';
import { isNarrow, layoutKey, onLayoutChange } from '../narrow.js';

export const ROW_HEIGHT = 24;
const PAGE = 500;

export const callKey = (e: MemEventJson): string => `${e.ktime}:${e.tid}:${e.call}`;

/**
 * The columns of a call list. Each means the same for every call: "size" is the length the call
 * names (mremap: old → new; brk names none), "result" what it returned (see resultText),
 * "address" the address it asked for. The header is built from this list, so every column has
 * its heading; the optional ones can be hidden (remembered in localStorage).
 */
interface Column {
  id: string;
  head: string;
  /** Tooltip of the heading: what the column shows. */
  help: string;
  /** A grid track size. */
  width: string;
  /** Width in px the column needs at least (for the list's horizontal scroll). */
  minPx: number;
  num?: boolean;
  /** Columns that can be hidden, and whether they start hidden. */
  optional?: 'shown' | 'hidden';
  /** An optional column shown in a wide window that starts hidden in a narrow one (web/narrow.ts). */
  narrowHidden?: true;
  text(e: MemEventJson): string;
  title?(e: MemEventJson): string;
}

const exact = (n: number | null): string => (n === null ? '' : `${n.toLocaleString('en-US')} bytes`);

export const CALL_COLUMNS: Column[] = [
  {
    id: 'time',
    head: 'time',
    help: 'when the call was made (local time)',
    width: '96px',
    minPx: 96,
    text: (e) => timeText(Date.parse(e.time)),
    title: (e) => e.time,
  },
  { id: 'pid', head: 'pid', help: 'process id', width: '64px', minPx: 64, num: true, text: (e) => String(e.pid) },
  {
    id: 'name',
    head: 'process',
    help: "the process's name at the call",
    width: 'minmax(90px, 1fr)',
    minPx: 90,
    text: (e) => e.name,
    title: (e) => e.name,
  },
  { id: 'call', head: 'call', help: 'the system call', width: '64px', minPx: 64, text: (e) => e.call },
  {
    id: 'size',
    head: 'size',
    help: 'the length the call names: mmap and munmap their length, mremap old → new; brk names none (its new break is the result)',
    width: '118px',
    minPx: 118,
    num: true,
    text: (e) =>
      e.call === 'brk'
        ? '—'
        : e.call === 'mremap'
          ? `${bytesText(e.length)} → ${bytesText(e.new_length)}`
          : bytesText(e.length),
    title: (e) =>
      e.call === 'brk'
        ? 'brk takes no length'
        : e.call === 'mremap'
          ? `${exact(e.length)} → ${exact(e.new_length)}`
          : exact(e.length),
  },
  {
    id: 'result',
    head: 'result',
    help: 'what the call returned: mmap and mremap the address of the mapping, munmap ok, brk the new break; a failed call its error',
    width: '168px',
    minPx: 168,
    text: resultText,
    title: (e) => (e.error !== null ? `failed: ${e.error} (${e.result})` : `returned ${e.result}`),
  },
  {
    id: 'address',
    head: 'address',
    help: 'the address asked for: mmap its hint (any = none), munmap and mremap the range, brk the break requested (query = 0)',
    width: '140px',
    minPx: 140,
    optional: 'shown',
    narrowHidden: true,
    text: addressText,
    title: (e) => (e.call === 'mremap' && e.new_addr !== null ? `${e.addr}, new address ${e.new_addr}` : e.addr),
  },
  {
    id: 'prot',
    head: 'prot',
    help: 'mmap and mprotect: the protection asked for (read, write, execute)',
    width: '44px',
    minPx: 44,
    optional: 'shown',
    narrowHidden: true,
    text: (e) => (e.call === 'mmap' || e.call === 'mprotect' ? protText(e.prot) : ''),
    title: (e) => (e.prot === null ? '' : `PROT bits 0x${e.prot.toString(16)}`),
  },
  {
    id: 'flags',
    head: 'flags',
    help: 'mmap: MAP_* flags; mremap: MREMAP_* flags',
    width: '150px',
    minPx: 150,
    optional: 'shown',
    narrowHidden: true,
    text: (e) => flagsText(e.call, e.flags),
    title: (e) => (e.flags === null ? '' : `${flagsText(e.call, e.flags)} (0x${e.flags.toString(16)})`),
  },
  {
    id: 'fd',
    head: 'fd',
    help: 'mmap: the file descriptor mapped (none: anonymous memory)',
    width: '46px',
    minPx: 46,
    num: true,
    optional: 'shown',
    narrowHidden: true,
    text: (e) => (e.call !== 'mmap' || e.fd === null ? '' : e.fd < 0 ? 'none' : String(e.fd)),
  },
  {
    id: 'tid',
    head: 'tid',
    help: 'thread id of the calling thread',
    width: '64px',
    minPx: 64,
    num: true,
    optional: 'hidden',
    text: (e) => String(e.tid),
  },
  {
    id: 'thread',
    head: 'thread',
    help: "the calling thread's name",
    width: '110px',
    minPx: 110,
    optional: 'hidden',
    text: (e) => e.thread,
    title: (e) => e.thread,
  },
];

const COLUMNS_KEY = 'memlens-call-columns';

/**
 * The optional columns hidden now, shared by every call list and kept across visits for each
 * layout: the defaults (a narrow window starts without the narrowHidden columns: time, pid,
 * process, call, size and result fit 800 px, and the process detail's panel), or what the picker
 * last kept.
 */
function loadHidden(): Set<string> {
  const narrow = isNarrow();
  const hidden = new Set<string>(
    CALL_COLUMNS.filter((c) => c.optional === 'hidden' || (narrow && c.narrowHidden === true)).map((c) => c.id),
  );
  try {
    const saved = localStorage.getItem(layoutKey(COLUMNS_KEY));
    if (saved !== null) {
      const ids = JSON.parse(saved) as unknown;
      if (Array.isArray(ids)) {
        hidden.clear();
        for (const id of ids)
          if (typeof id === 'string' && CALL_COLUMNS.some((c) => c.id === id && c.optional !== undefined))
            hidden.add(id);
      }
    }
  } catch {
    // Storage unavailable or malformed: the defaults.
  }
  return hidden;
}
let hiddenColumns = loadHidden();
const columnListeners = new Set<() => void>();

function setColumnHidden(id: string, hidden: boolean): void {
  if (hidden) hiddenColumns.add(id);
  else hiddenColumns.delete(id);
  try {
    localStorage.setItem(layoutKey(COLUMNS_KEY), JSON.stringify([...hiddenColumns]));
  } catch {
    // Not kept, still applied.
  }
  for (const f of columnListeners) f();
}

/** The checkboxes that show or hide the optional columns, following the layout's choice. */
export function columnChooser(holder: HTMLElement): void {
  const draw = (): void => {
    const boxes = CALL_COLUMNS.filter((c) => c.optional !== undefined).map((c) => {
      const box = el('input', { type: 'checkbox', 'data-col': c.id });
      box.checked = !hiddenColumns.has(c.id);
      box.addEventListener('change', () => setColumnHidden(c.id, !box.checked));
      return el('label', { title: c.help }, box, ` ${c.head}`);
    });
    holder.replaceChildren(...boxes);
  };
  draw();
  columnListeners.add(draw);
}

// Crossing between the wide and the narrow layout brings that layout's columns to every list.
onLayoutChange(() => {
  hiddenColumns = loadHidden();
  for (const f of columnListeners) f();
});

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
    private readonly head: HTMLElement,
    private readonly scroller: HTMLElement,
    private readonly inner: HTMLElement,
    private readonly onInfo: (text: string) => void,
    private readonly onHeld: (n: number) => void,
    /** Columns this list never shows (the process detail's: every row is the same process). */
    private readonly omit: ReadonlySet<string> = new Set(),
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
    this.layoutColumns();
    columnListeners.add(() => this.layoutColumns());
  }

  private template = '';

  /** The header and the grid of the rows, for the columns shown now. */
  private layoutColumns(): void {
    const shown = CALL_COLUMNS.filter((c) => this.shows(c.id));
    this.template = shown.map((c) => c.width).join(' ');
    // Gaps of 8 px and 8 px padding each side; below this width the list scrolls sideways.
    const minPx = shown.reduce((a, c) => a + c.minPx, 0) + 8 * (shown.length - 1) + 16;
    this.head.style.gridTemplateColumns = this.template;
    this.head.style.minWidth = `${minPx}px`;
    this.scroller.style.minWidth = `${minPx}px`;
    this.head.replaceChildren(
      ...CALL_COLUMNS.map((c) => {
        const span = el('span', { 'data-col': c.id, title: c.help, class: c.num === true ? 'num' : '' }, c.head);
        span.hidden = !this.shows(c.id);
        return span;
      }),
    );
    for (const row of this.pool) this.styleRow(row);
  }

  private styleRow(row: HTMLElement): void {
    row.style.gridTemplateColumns = this.template;
    CALL_COLUMNS.forEach((c, i) => {
      const cell = row.children[i];
      if (cell instanceof HTMLElement) cell.hidden = !this.shows(c.id);
    });
  }

  private shows(id: string): boolean {
    return !hiddenColumns.has(id) && !this.omit.has(id);
  }

  get length(): number {
    return this.rows.length;
  }

  private lastReloadMs = 0;
  private reloadTimer: number | null = null;
  private reloading = false;

  /**
   * The server skipped calls: the newest page from the store is the truth. At most one reload a
   * second, and never a second one while one is on its way, so that a flood of calls does not turn
   * into a flood of queries. The rows shown stay until the page arrives and replaces them. (A
   * reload used to empty the list and start over each second: when the store took longer than
   * that to answer, as it does under a flood of calls, every page was thrown away for the next
   * reload and the unfiltered list stayed empty but for the live calls of the last update.)
   */
  private reloadHead(): void {
    if (this.reloadTimer !== null || this.reloading) return;
    const wait = Math.max(0, 1000 - (Date.now() - this.lastReloadMs));
    this.reloadTimer = window.setTimeout(() => {
      this.reloadTimer = null;
      void this.refreshHead();
    }, wait);
  }

  private async refreshHead(): Promise<void> {
    const gen = this.generation;
    this.reloading = true;
    try {
      const page = await api.events(this.query());
      if (gen !== this.generation) return;
      // Live calls newer than the page's newest arrived while it was on its way: they stay on top.
      const newest = page.rows[0];
      const pageKeys = new Set(page.rows.map(callKey));
      const newer =
        newest === undefined
          ? this.rows
          : this.rows.filter((r) => BigInt(r.ktime) > BigInt(newest.ktime) && !pageKeys.has(callKey(r)));
      this.rows = [...newer, ...page.rows];
      this.keys = new Set(this.rows.map(callKey));
      this.next = page.next;
    } catch (e) {
      this.onInfo(`could not load calls: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.reloading = false;
      this.lastReloadMs = Date.now();
    }
    if (gen === this.generation) this.sync();
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
    if (this.reloadTimer !== null) window.clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
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
      if (gen === this.generation)
        this.onInfo(
          c.capped ? `more than ${countText(c.count)} calls stored match` : `${countText(c.count)} calls stored match`,
        );
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
    this.virtualizer.setOptions({
      ...this.virtualizer.options,
      count: this.rows.length + (this.next !== null ? 1 : 0),
    });
    this.virtualizer._willUpdate();
    this.virtualizer.measure();
    this.paint();
  }

  private rowElement(i: number): HTMLElement {
    let row = this.pool[i];
    if (row === undefined) {
      row = el('div', { class: 'vrow' });
      for (const c of CALL_COLUMNS) row.append(el('span', { 'data-col': c.id, class: c.num === true ? 'num' : '' }));
      this.styleRow(row);
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
        CALL_COLUMNS.forEach((c, i) => {
          const cell = cells[i];
          if (cell !== undefined) setText(cell, c.id === 'name' ? 'loading older calls…' : '');
        });
        void this.loadMore();
      } else {
        row.classList.remove('more');
        row.classList.toggle('failed', r.error !== null);
        CALL_COLUMNS.forEach((c, i) => {
          const cell = cells[i];
          if (cell === undefined) return;
          setText(cell, c.text(r));
          const title = c.title?.(r) ?? '';
          if (cell.getAttribute('title') !== title) cell.setAttribute('title', title);
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
    columnChooser(byId('calls-columns-list'));
    this.list = new CallList(
      byId('calls-head'),
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
