// Starts the built `memlens serve` on a free port with a private SQLite store, and the C workload
// of workload.c, for the browser tests and the serve benchmarks.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { describePredicate, waitingFor } from '../helpers/waiting.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the first stdout line matching `re`, whenever it comes. */
function lineMatching(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return waitingFor(
    `pid ${child.pid} (${child.spawnargs.join(' ').slice(0, 200)}) to print /${re.source}/`,
    () =>
      new Promise((resolve, reject) => {
        let buf = '';
        child.stdout?.setEncoding('utf8');
        child.stdout?.on('data', (d: string) => {
          buf += d;
          const m = re.exec(buf);
          if (m !== null) resolve(m);
        });
        child.once('exit', (code) =>
          reject(new Error(`exited with ${code} before printing ${re.source}; stdout: ${buf}`)),
        );
      }),
  );
}

export interface LiveServe {
  url: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<number | null>;
}

// Servers still running when the test process exits (a failed before(), a forced exit) are told
// to stop, so none is left tracing the machine after the test run.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGINT');
});

export interface StartServeOptions {
  /**
   * The data directory (its events.db is the store) to use, and keep when the server stops: a
   * second server started on the same directory finds what the first stored. Default: a new
   * temporary directory, removed when the server stops.
   */
  dir?: string;
  /** A command the server runs under, e.g. ['prlimit', '--nofile=400:400', '--']. */
  prefix?: string[];
}

/** A data directory for startServe({ dir }), kept across servers; remove it with rmSync when done. */
export function serveDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'memlens-serve-test-'));
}

export async function startServe(extra: string[] = [], opts: StartServeOptions = {}): Promise<LiveServe> {
  const keep = opts.dir !== undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'memlens-serve-test-'));
  const port = await freePort();
  const argv = [process.execPath, cliPath, 'serve', '--port', String(port), '--db', join(dir, 'events.db'), ...extra];
  const [command = process.execPath, ...args] = [...(opts.prefix ?? []), ...argv];
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', XDG_DATA_HOME: dir },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const m = await lineMatching(child, /dashboard at (\S+)/);
  return {
    url: m[1] ?? '',
    child,
    stderr: () => err,
    stop: () =>
      waitingFor(
        `memlens serve (pid ${child.pid}) to exit after SIGINT`,
        () =>
          new Promise((resolve) => {
            if (child.exitCode !== null) {
              resolve(child.exitCode);
              return;
            }
            child.once('exit', (code) => {
              // The store and data directory are the test's own; what to look at afterwards is the
              // exit code and stderr, which the caller has.
              if (!keep) rmSync(dir, { recursive: true, force: true });
              resolve(code);
            });
            child.kill('SIGINT');
          }),
      ),
  };
}

let compiled: string | undefined;
export function workloadBinary(): string {
  if (compiled !== undefined) return compiled;
  const out = join(mkdtempSync(join(tmpdir(), 'memlens-workload-')), 'workload');
  execFileSync('gcc', ['-O1', '-o', out, join(repoRoot, 'test', 'web', 'workload.c')]);
  compiled = out;
  return out;
}

export interface Workload {
  pid: number;
  stop(): Promise<void>;
}

/** Starts the workload and resolves once its mappings are made. */
export function startWorkload(
  name: string,
  gib: number,
  count: number,
  unmap: number,
  extraArgs: string[] = [],
): Promise<Workload> {
  return startWorkloadMode(name, [String(gib), String(count), String(unmap), ...extraArgs]);
}

/** Starts the workload with the arguments after its name (a mode of workload.c), once it is ready. */
export async function startWorkloadMode(name: string, args: string[]): Promise<Workload> {
  const child = spawn(workloadBinary(), [name, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  await lineMatching(child, /ready/);
  return {
    pid: child.pid ?? 0,
    stop: () =>
      waitingFor(
        `the workload ${name} (pid ${child.pid}) to exit once its stdin closed`,
        () =>
          new Promise((resolve) => {
            if (child.exitCode !== null) {
              resolve();
              return;
            }
            child.once('exit', () => resolve());
            child.stdin.end();
          }),
      ),
  };
}

// Browser profiles go when the test process exits: the browser's processes may still be writing to
// them just after close() has returned.
const profiles = new Set<string>();
process.once('exit', () => {
  for (const dir of profiles) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Left in the temporary directory.
    }
  }
});

export async function launchBrowser(): Promise<BrowserContext> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'memlens-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1440, height: 900 },
  });
  profiles.add(userDataDir);
  return context;
}

/** How long a page wait lasts at most by default: generous, for a machine busy with other tests. */
export const PAGE_WAIT_MS = 5 * 60_000;

/**
 * Waits until the predicate holds in the page, at most `timeoutMs`; the wait leaves a note saying
 * so, and when the bound runs out it fails saying what it waited for.
 */
export async function untilInPage<A>(
  page: Page,
  fn: (arg: A) => boolean,
  arg?: A,
  timeoutMs: number = PAGE_WAIT_MS,
): Promise<void> {
  const what = `the page: ${describePredicate(fn, arg)}`;
  await waitingFor(
    what,
    async () => {
      try {
        await page.waitForFunction(fn as (arg: unknown) => boolean, arg, { timeout: timeoutMs, polling: 200 });
      } catch (e) {
        if (e instanceof Error && e.name === 'TimeoutError')
          throw new Error(`waited ${Math.round(timeoutMs / 1000)} s for ${what}`);
        throw e;
      }
    },
    timeoutMs + 30_000,
  );
}

/**
 * Moves the pointer over the pie of `selector` (an ECharts chart drawn as SVG) point by point, 8 px
 * apart over the box of its shapes, until its tooltip holds `text`; returns the tooltips seen, the
 * last one last. The tooltip is the chart's only div without the drawing inside.
 */
export async function hoverChartUntil(page: Page, selector: string, text: string): Promise<string> {
  const box = await page.evaluate((sel: string) => {
    const rects = [...document.querySelectorAll(`${sel} svg path`)]
      .map((p) => p.getBoundingClientRect())
      .filter((r) => r.width > 0 && r.height > 0);
    if (rects.length === 0) return null;
    const x = Math.min(...rects.map((r) => r.left));
    const y = Math.min(...rects.map((r) => r.top));
    return { x, y, w: Math.max(...rects.map((r) => r.right)) - x, h: Math.max(...rects.map((r) => r.bottom)) - y };
  }, selector);
  if (box === null) return '';
  let seen = '';
  for (let dy = 4; dy < box.h; dy += 8) {
    for (let dx = 4; dx < box.w; dx += 8) {
      await page.mouse.move(box.x + dx, box.y + dy);
      seen = await page.evaluate(
        (sel: string) =>
          [...document.querySelectorAll(`${sel} div`)]
            .filter((d) => d.querySelector('svg') === null)
            .map((d) => d.textContent)
            .join('|'),
        selector,
      );
      if (seen.includes(text)) return seen;
    }
  }
  return seen;
}
