import type { MemtraceWireReport } from '../../wire/memtrace.js';
import type { FlameData } from './folded.js';
export function renderHtmlReport(r: MemtraceWireReport, flame: FlameData): string {
  return JSON.stringify({ r, flame });
}
