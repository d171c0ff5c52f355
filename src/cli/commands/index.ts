// The list of memlens commands. Each module defines its flags and lazily loads its work.
import type { Command } from 'commander';
import { defineCapture } from './capture.js';
import { defineDirty } from './dirty.js';
import { defineEvents } from './events.js';
import { defineMemtrace } from './memtrace.js';
import { definePages } from './pages.js';
import { defineProcess } from './process.js';
import { defineServe } from './serve.js';
import { defineSnapshot } from './snapshot.js';
import { defineTrace } from './trace.js';

export const COMMANDS: ((program: Command) => void)[] = [
  defineSnapshot,
  defineProcess,
  defineCapture,
  defineTrace,
  defineEvents,
  defineServe,
  defineDirty,
  defineMemtrace,
  definePages,
];
