// Notes of what a test is waiting for. Tests wait for conditions without time limits, so a
// condition that never comes shows up as a run that does not end. scripts/run-tests.mjs prints these
// notes (with the processes still running) when the suite has been silent for a long while, so
// that such a run says what it was waiting for instead of only stopping.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { artifactsDir } from './paths.js';

/** Where the notes live; scripts/run-tests.mjs reads the same folder. */
const waitingDir: string = join(artifactsDir, 'waiting');

let seq = 0;

/** Runs `body`, leaving a note that says `what` this process waits for until it settles. */
export async function waitingFor<T>(what: string, body: () => Promise<T>): Promise<T> {
  mkdirSync(waitingDir, { recursive: true });
  const file = join(waitingDir, `${process.pid}-${++seq}.txt`);
  const script = basename(process.argv[1] ?? 'node');
  writeFileSync(file, `${new Date().toISOString()} ${script}: ${what}\n`);
  try {
    return await body();
  } finally {
    rmSync(file, { force: true });
  }
}

/** A predicate's own source, on one line, with its argument: what a wait on it waits for. */
export function describePredicate(fn: (...args: never[]) => unknown, arg?: unknown): string {
  const source = fn.toString().replace(/\s+/g, ' ').slice(0, 400);
  return arg === undefined ? source : `${source} with ${JSON.stringify(arg, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
}

/**
 * Like waitingFor, with a bound: fails after `ms` saying what it waited for (and `more()`, such as
 * what the process waited on had said), instead of waiting on.
 */
export async function waitAtMost<T>(ms: number, what: string, body: () => Promise<T>, more: () => string = () => ''): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms / 1000} s for ${what}, in vain${more() === '' ? '' : `; ${more()}`}`)), ms);
  });
  try {
    return await waitingFor(what, () => Promise.race([body(), late]));
  } finally {
    clearTimeout(timer);
  }
}
