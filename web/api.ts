// The typed HTTP client of the dashboard. The server's own cookie carries the token (when one is
// required), so requests need nothing more than the same origin.
import type {
  DirtyBody,
  EventCountBody,
  EventsBody,
  HistoryBody,
  HostsBody,
  LedgerBody,
  PieBody,
  PieFigure,
  ProcessDetailBody,
  ProcessesBody,
  StatusBody,
  TimelineBody,
} from '../src/wire/messages.js';
import { MESSAGES_WIRE_VERSION } from '../src/wire/messages.js';
import type { MemtraceFilesBody, MemtraceReportBody } from '../src/wire/memtrace.js';
import type { FramesBody, PagesBody } from '../src/wire/pages.js';

async function get<T extends { type: string; v: number }>(
  path: string,
  type: T['type'],
  params: Record<string, string | number | undefined> = {},
): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
  const url = qs.size > 0 ? `${path}?${qs.toString()}` : path;
  const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  const body = (await res.json()) as { type?: unknown; v?: unknown; message?: unknown };
  if (!res.ok) throw new Error(typeof body.message === 'string' ? body.message : `HTTP ${res.status}`);
  if (body.v !== MESSAGES_WIRE_VERSION || body.type !== type) throw new Error(`unexpected answer from ${path}`);
  return body as T;
}

export interface CallQuery {
  host?: string;
  pid?: number;
  name?: string;
  call?: string;
  from?: number;
  to?: number;
  before?: string;
  limit?: number;
}

export const api = {
  status: (host?: string) => get<StatusBody>('/api/v1/status', 'status', { host }),
  hosts: () => get<HostsBody>('/api/v1/hosts', 'hosts'),
  processes: (host?: string) => get<ProcessesBody>('/api/v1/processes', 'processes', { host }),
  pie: (host?: string, figure?: PieFigure, exited?: boolean) =>
    get<PieBody>('/api/v1/pie', 'pie', { host, figure, exited: exited === undefined ? undefined : exited ? '1' : '0' }),
  ledger: (host?: string) => get<LedgerBody>('/api/v1/ledger', 'ledger', { host }),
  timeline: (host?: string) => get<TimelineBody>('/api/v1/timeline', 'timeline', { host }),
  history: (q: { host?: string; from?: number; to?: number; points?: number; pids?: string }) =>
    get<HistoryBody>('/api/v1/history', 'history', { ...q }),
  process: (pid: number, host?: string) => get<ProcessDetailBody>(`/api/v1/processes/${pid}`, 'process', { host }),
  events: (q: CallQuery) => get<EventsBody>('/api/v1/events', 'events', { ...q }),
  dirty: () => get<DirtyBody>('/api/v1/dirty', 'dirty'),
  pages: (q: { start?: number; end?: number; cells?: number }) => get<PagesBody>('/api/v1/pages', 'pages', { ...q }),
  frames: (start: number, count: number) => get<FramesBody>('/api/v1/pages/frames', 'frames', { start, count }),
  memtraceFiles: () => get<MemtraceFilesBody>('/api/v1/memtrace/files', 'memtrace-files'),
  memtraceReport: (file: string) => get<MemtraceReportBody>('/api/v1/memtrace/report', 'memtrace-report', { file }),
  eventCount: (q: CallQuery) =>
    get<EventCountBody>('/api/v1/events/count', 'event-count', { ...q, before: undefined, limit: undefined }),
};
