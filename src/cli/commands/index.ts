// The list of memlens commands: each name with a loader of the module that defines its flags
// (and that itself loads its work lazily). A run loads the definition of the command it runs
// alone; --help and unknown words load them all (program.ts). In the order --help lists them.
import type { Command } from 'commander';

export type DefineCommand = (program: Command) => void;

export const COMMANDS: Readonly<Record<string, () => Promise<DefineCommand>>> = {
  snapshot: async () => (await import('./snapshot.js')).defineSnapshot,
  process: async () => (await import('./process.js')).defineProcess,
  capture: async () => (await import('./capture.js')).defineCapture,
  trace: async () => (await import('./trace.js')).defineTrace,
  events: async () => (await import('./events.js')).defineEvents,
  serve: async () => (await import('./serve.js')).defineServe,
  dirty: async () => (await import('./dirty.js')).defineDirty,
  memtrace: async () => (await import('./memtrace.js')).defineMemtrace,
  pages: async () => (await import('./pages.js')).definePages,
};
