// Notes of what a test is waiting for, and the bound on each wait. A condition that never comes
// fails the test after the bound (generous: minutes, since a busy two-core machine is slow, and a
// bound is not a speed requirement) with a message naming what it waited for; while it waits,
// scripts/run-tests.mjs can print the notes if the suite has been silent for a long while.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { artifactsDir } from './paths.js';

/** Where the notes live; scripts/run-tests.mjs reads the same folder. */
const waitingDir: string = join(artifactsDir, 'waiting');

let seq = 0;

/** How long a wait may last unless its caller says otherwise. */
export const DEFAULT_WAIT_BOUND_MS = 5 * 60_000;

export class WaitBoundExceeded extends Error {
  override name = 'WaitBoundExceeded';
}

/**
 * Runs `body`, leaving a note that says `what` this process waits for until it settles. If it has
 * not settled after `boundMs`, the wait fails with an error naming `what`, and `signal` (given to
 * `body`) is aborted so that a polling body can stop.
 */
export async function waitingFor<T>(
  what: string,
  body: (signal: AbortSignal) => Promise<T>,
  boundMs: number = DEFAULT_WAIT_BOUND_MS,
): Promise<T> {
  const file = join(waitingDir, `${process.pid}-${++seq}.txt`);
  const script = basename(process.argv[1] ?? 'node');
  try {
    mkdirSync(waitingDir, { recursive: true });
    writeFileSync(file, `${new Date().toISOString()} ${script}: ${what}\n`);
  } catch {
    // The note is for people; a checkout mounted read-only (the soft-dirty VM's guest runs the
    // tests from one) still gets the bound.
  }
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = new WaitBoundExceeded(`gave up after ${(boundMs / 60_000).toFixed(1)} min waiting for: ${what}`);
      abort.abort(err);
      reject(err);
    }, boundMs);
  });
  try {
    return await Promise.race([body(abort.signal), bound]);
  } finally {
    clearTimeout(timer);
    rmSync(file, { force: true });
  }
}

/** A predicate's own source, on one line, with its argument: what a wait on it waits for. */
export function describePredicate(fn: (...args: never[]) => unknown, arg?: unknown): string {
  const source = fn.toString().replace(/\s+/g, ' ').slice(0, 400);
  return arg === undefined
    ? source
    : `${source} with ${JSON.stringify(arg, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
}

/**
 * Like waitingFor, with a bound: fails after `ms` saying what it waited for (and `more()`, such as
 * what the process waited on had said), instead of waiting on.
 */
export async function waitAtMost<T>(
  ms: number,
  what: string,
  body: () => Promise<T>,
  more: () => string = () => '',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`waited ${ms / 1000} s for ${what}, in vain${more() === '' ? '' : `; ${more()}`}`)),
      ms,
    );
  });
  try {
    return await waitingFor(what, () => Promise.race([body(), late]));
  } finally {
    clearTimeout(timer);
  }
}
