// /proc/PID/limits (fs/proc/base.c proc_pid_limits): one line per resource limit, the soft and
// hard values in fixed-width columns, "unlimited" for RLIM_INFINITY.
import { ParseError } from '../../base/errors.js';

export interface ResourceLimit {
  /** Null = unlimited. */
  soft: number | null;
  hard: number | null;
}

function limitValue(text: string, source: string): number | null {
  if (text === 'unlimited') return null;
  if (!/^\d{1,15}$/.test(text)) throw new ParseError(`limit "${text}" is not a number`, source);
  return Number(text);
}

/** The limit named `name` ("Max open files"); undefined when the kernel does not print it. */
export function parseResourceLimit(
  text: string,
  name: string,
  source = '/proc/self/limits',
): ResourceLimit | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name} `)) continue;
    const fields = line.slice(name.length).trim().split(/\s+/);
    const [soft, hard] = fields;
    if (soft === undefined || hard === undefined) throw new ParseError(`"${name}" has no soft and hard values`, source);
    return { soft: limitValue(soft, source), hard: limitValue(hard, source) };
  }
  return undefined;
}
