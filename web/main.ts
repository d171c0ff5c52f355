// The memlens dashboard. Plain TypeScript over the typed API (src/wire/messages.ts): the first
// picture comes over HTTP, then batched updates over one WebSocket. No framework.
import type { ProcessesBody, ServerMessage, StatusBody, UpdateMessage } from '../src/wire/messages.js';
import { PROCESSES_DELTA_VERSION } from '../src/wire/messages.js';
import { applyProcessesDelta } from '../src/wire/processes-delta.js';
import { api } from './api.js';
import { byId, el, setText } from './dom.js';
import { LiveConnection } from './live.js';
import { StatusBar } from './status-bar.js';
import { CallsView } from './views/calls.js';
import { DetailView } from './views/detail.js';
import { DirtyView } from './views/dirty.js';
import { PagesView } from './views/pages.js';
import { ProcessesView } from './views/processes.js';
import { SystemView } from './views/system.js';
import { MemtraceView } from './views/memtrace.js';
import { TimelineView } from './views/timeline.js';

type Tab = 'processes' | 'calls' | 'system' | 'timeline' | 'memtrace' | 'dirty' | 'pages';
const TABS: Tab[] = ['processes', 'calls', 'system', 'timeline', 'memtrace', 'dirty', 'pages'];

let tab: Tab = 'processes';
let host: string | undefined;
let localHost = '';

const status = new StatusBar();
const detail = new DetailView(() => resubscribe());
const processes = new ProcessesView(
  (pid) => openDetail(pid),
  () => {
    resubscribe();
    void loadPie().catch(() => undefined);
  },
  (counts) => status.setPssCounts(counts),
);
const calls = new CallsView(() => resubscribe());
const system = new SystemView();
const timeline = new TimelineView();
const memtrace = new MemtraceView();
const dirty = new DirtyView();
const pages = new PagesView();
let callsLoaded = false;
/**
 * The processes table as the WebSocket brought it: whole once per subscription, then changes on
 * top (the table loaded over HTTP is shown until then, but no change applies to it). `deltas`
 * counts the changes applied, for the tests.
 */
let liveTable: { body: ProcessesBody; deltas: number } | null = null;

declare global {
  interface Window {
    /** The live processes table as the page holds it (read by the browser tests). */
    memlensLiveTable?: () => { body: ProcessesBody; deltas: number } | null;
  }
}
window.memlensLiveTable = () => liveTable;

const live = new LiveConnection(onMessage, (s) => status.connection(s));

function resubscribe(): void {
  const sub: Parameters<LiveConnection['subscribe']>[0] = {};
  if (host !== undefined) sub.host = host;
  if (detail.pid !== null) {
    sub.detailPid = detail.pid;
    sub.calls = { pid: detail.pid };
  } else if (tab === 'calls') sub.calls = calls.liveFilter();
  // The dirty-pages rounds come only while their tab is open; it loads the history first.
  if (tab === 'dirty') sub.dirty = { afterRound: dirty.newestRound };
  sub.pie = processes.pieChoice();
  sub.processesDelta = PROCESSES_DELTA_VERSION;
  live.subscribe(sub);
}

/** (Re)loads the dirty-pages history over HTTP, then follows it live from its newest round. */
function openDirty(): void {
  void dirty.open().then(() => {
    if (tab === 'dirty') resubscribe();
  });
}

function openDetail(pid: number): void {
  void detail.open(pid, host);
  resubscribe();
}

function showTab(t: Tab): void {
  tab = t;
  for (const name of TABS) {
    byId(`view-${name}`).hidden = name !== t;
    byId(`tab-${name}`).setAttribute('aria-selected', String(name === t));
  }
  // After the tab's element is shown, so that its charts measure their real size.
  processes.setShown(t === 'processes');
  system.setShown(t === 'system');
  if (t === 'calls' && !callsLoaded) {
    callsLoaded = true;
    calls.setHost(host);
  }
  if (t === 'timeline') {
    timeline.render();
    timeline.sampled();
  }
  if (t === 'memtrace') void memtrace.open();
  if (t === 'pages') void pages.open();
  location.hash = t;
  resubscribe();
  if (t === 'dirty') openDirty();
}

function applyUpdate(m: UpdateMessage): void {
  if (m.status !== undefined) setStatus(m.status);
  if (m.processes !== undefined) {
    liveTable = m.processes.table === undefined ? null : { body: m.processes, deltas: 0 };
    processes.setProcesses(m.processes);
  }
  const delta = m.processesDelta;
  if (delta !== undefined) {
    if (liveTable !== null && liveTable.body.table === delta.baseTable) {
      liveTable = { body: applyProcessesDelta(liveTable.body, delta), deltas: liveTable.deltas + 1 };
      processes.setProcesses(liveTable.body);
    } else {
      // Not the table this page holds (cannot happen on one connection; never applied blindly):
      // subscribing again brings the table whole.
      liveTable = null;
      resubscribe();
    }
  }
  if (m.pie !== undefined) processes.setPie(m.pie);
  if (m.ledger !== undefined) system.set(m.ledger);
  if (m.timelinePoint !== undefined && tab === 'timeline') timeline.sampled();
  if (m.detailPoint !== undefined) detail.addPoint(m.detailPoint.pid, m.detailPoint.point, m.detailPoint.row);
  if (m.calls !== undefined || m.callsSkipped !== undefined) {
    if (detail.pid !== null) detail.addCalls(m.calls ?? [], m.callsSkipped ?? 0);
    else if (tab === 'calls') calls.list.addLive(m.calls ?? [], m.callsSkipped ?? 0);
  }
  if (m.dirty !== undefined && tab === 'dirty' && dirty.apply(m.dirty) === 'reload') openDirty();
  if (tab === 'timeline') timeline.render();
  setText(byId('st-seq'), `update #${m.seq}`);
}

function onMessage(m: ServerMessage): void {
  switch (m.type) {
    case 'hello':
      localHost = m.host;
      break;
    case 'update':
      applyUpdate(m);
      break;
    case 'error':
      setText(byId('st-error'), m.message);
      break;
  }
}

/** The status strip, and for a read-only server's archive the Timeline's range. */
function setStatus(s: StatusBody): void {
  status.set(s);
  const ro = s.readOnly;
  if (ro !== undefined && ro !== null) timeline.pinRange(ro.fromMs, ro.toMs);
}

async function loadPie(): Promise<void> {
  const c = processes.pieChoice();
  processes.setPie(await api.pie(host, c.figure, c.exited));
}

async function loadAll(): Promise<void> {
  const c = processes.pieChoice();
  const [st, procs, pie, ledger] = await Promise.all([
    api.status(host),
    api.processes(host),
    api.pie(host, c.figure, c.exited),
    api.ledger(host),
  ]);
  setStatus(st);
  processes.setProcesses(procs);
  processes.setPie(pie);
  system.set(ledger);
  timeline.setHost(host);
}

async function loadHosts(): Promise<void> {
  const h = await api.hosts();
  localHost = h.local;
  const select = byId('host', HTMLSelectElement);
  select.replaceChildren(
    ...h.hosts.map((name) => el('option', { value: name }, name === h.local ? `${name} (this machine)` : name)),
  );
  select.value = host ?? h.local;
  byId('host-box').hidden = h.hosts.length < 2;
}

function setTheme(theme: 'light' | 'dark'): void {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('memlens-theme', theme);
  processes.refreshTheme();
  system.refreshTheme();
  timeline.refreshTheme();
  detail.refreshTheme();
  memtrace.refreshTheme();
  dirty.refreshTheme();
  pages.refreshTheme();
  if (tab === 'timeline') timeline.render();
}

function init(): void {
  for (const t of TABS) byId(`tab-${t}`).addEventListener('click', () => showTab(t));
  byId('host', HTMLSelectElement).addEventListener('change', (ev) => {
    const value = (ev.target as HTMLSelectElement).value;
    host = value === localHost ? undefined : value;
    detail.close();
    void loadAll();
    if (callsLoaded) calls.setHost(host);
    resubscribe();
  });
  byId('pages-back').addEventListener('click', () => pages.back());
  byId('theme').addEventListener('click', () =>
    setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'),
  );
  // Ages keep growing between updates: re-render them every second.
  setInterval(() => {
    status.render();
    system.tick(status.serverNow());
    if (tab === 'dirty') dirty.tick(status.serverNow());
  }, 1000);
  const initial = location.hash.slice(1) as Tab;
  showTab(TABS.includes(initial) ? initial : 'processes');
  live.connect();
  void loadHosts().catch(() => undefined);
  // The Dirty pages tab exists only when the server was started with --dirty-watch.
  void dirty
    .probe()
    .then((present) => (byId('tab-dirty').hidden = !present))
    .catch(() => undefined);
  void loadAll().catch((e: unknown) => setText(byId('st-error'), e instanceof Error ? e.message : String(e)));
}

const saved = localStorage.getItem('memlens-theme');
document.documentElement.dataset.theme =
  saved === 'dark' || saved === 'light' ? saved : matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
init();
