// The physical memory map for the dashboard: `memlens pages` over a frame range, one walk at a
// time (each reads up to 100 MB of /proc and takes seconds on a large machine), the whole range
// kept for CACHE_MS so that zooming out again does not walk it again.
import { collectPages, frameDetails } from '../analyses/pages.js';
import { openFrameFiles } from '../sources/frames.js';
import type { ProcSource } from '../sources/proc-source.js';
import type { FrameDetailJson, PagesJson } from '../wire/pages.js';

const CACHE_MS = 30_000;
const DEFAULT_CELLS = 4096;

export class PagesService {
  private queue: Promise<unknown> = Promise.resolve();
  private cached: { at: number; cells: number; report: PagesJson } | undefined;

  constructor(private readonly source: ProcSource) {}

  /** Runs walks one after the other. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  report(q: { start?: number | undefined; end?: number | undefined; cells?: number | undefined }): Promise<PagesJson> {
    const cells = q.cells ?? DEFAULT_CELLS;
    const whole = q.start === undefined && q.end === undefined;
    return this.serial(async () => {
      if (whole && this.cached && this.cached.cells === cells && Date.now() - this.cached.at < CACHE_MS)
        return this.cached.report;
      const report = await collectPages(this.source, openFrameFiles, {
        cells,
        ...(q.start !== undefined ? { startPfn: q.start } : {}),
        ...(q.end !== undefined ? { endPfn: q.end } : {}),
      });
      if (whole) this.cached = { at: Date.now(), cells, report };
      return report;
    });
  }

  frames(start: number, count: number): Promise<FrameDetailJson[]> {
    return this.serial(() => frameDetails(this.source, openFrameFiles, start, count));
  }
}
