// The one place that picks a tracing backend from the command line's choice.
import type { TraceBackend } from './trace-backend.js';
import type { TracefsBackendOptions } from './tracefs.js';

export type BackendKind = 'tracefs' | 'bpftrace';
export const BACKEND_KINDS: readonly BackendKind[] = ['tracefs', 'bpftrace'];

export interface BackendChoice {
  backend: BackendKind;
  /** Read a SystemTap stream from this file ("-" = stdin) instead of tracing live. */
  fromStap?: string;
  /** The common options, plus tracefs's own (other backends ignore those). */
  options: TracefsBackendOptions;
}

export async function createTraceBackend(choice: BackendChoice): Promise<TraceBackend> {
  if (choice.fromStap !== undefined) {
    const { createStapBackend } = await import('./stap.js');
    return createStapBackend(choice.fromStap, choice.options);
  }
  switch (choice.backend) {
    case 'tracefs': {
      const { createTracefsBackend } = await import('./tracefs.js');
      return createTracefsBackend(choice.options);
    }
    case 'bpftrace': {
      const { createBpftraceBackend } = await import('./bpftrace.js');
      return createBpftraceBackend(choice.options);
    }
  }
}

/** Whether the backend traces this machine now (so /proc can seed the models), rather than replaying a stream. */
export const isLive = (choice: BackendChoice): boolean => choice.fromStap === undefined;
