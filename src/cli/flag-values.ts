// The one parser of the CLI's whole-number and duration values: every integer flag, pid and
// duration of every command goes through here, as a commander argParser, so that each refuses
// bad values the same way and in the same words. A refused value is commander's
// InvalidArgumentError, which main.ts turns into one line on stderr and exit code 2 (usage).
import { InvalidArgumentError } from 'commander';

/**
 * The largest pid Linux can hand out: PID_MAX_LIMIT of include/linux/threads.h, 4 * 1024 * 1024 on
 * 64-bit (kernel.pid_max may be set lower, never higher). A larger number is never a process.
 */
export const PID_MAX_LIMIT = 4 * 1024 * 1024;

/**
 * The longest wait a Node timer can hold. setTimeout keeps its delay as a signed 32-bit number of
 * milliseconds: a longer one (more than 2^31 - 1 ms, about 24.8 days) is replaced by 1 ms with a
 * TimeoutOverflowWarning (Node's lib/internal/timers.js), so `--duration 25d` would stop after 1 ms.
 * Durations that become a timer are therefore at most 24 days, the whole number of days below.
 */
export const MAX_TIMER_MS = 24 * 86_400_000;

/** Durations that never become a timer (retention ages, "10m ago") stay exact as numbers. */
const MAX_DURATION_MS = Number.MAX_SAFE_INTEGER;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "10s", "500ms", "2m", "1h", "7d", "1.5s" or a bare number of seconds, in milliseconds; undefined when not a duration. */
export function durationMs(text: string): number | undefined {
  const m = /^\s*(\d{1,20}(?:\.\d{1,9})?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m?.[1]) return undefined;
  const unit = (m[2] ?? 's') as keyof typeof UNIT_MS;
  return Number(m[1]) * UNIT_MS[unit];
}

function durationText(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${ms}ms`;
}

export interface IntegerRange {
  min: number;
  max: number;
}

/** A whole number in [min, max], in decimal digits (no sign, exponent or fraction). */
export function integerValue(text: string, range: IntegerRange): number {
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (Number.isSafeInteger(n) && n >= range.min && n <= range.max) return n;
  const bound = range.max >= Number.MAX_SAFE_INTEGER ? `of at least ${range.min}` : `from ${range.min} to ${range.max}`;
  throw new InvalidArgumentError(`expected a whole number ${bound}`);
}

/** A positive duration of at most maxMs. */
export function durationValue(text: string, maxMs: number = MAX_DURATION_MS): number {
  const ms = durationMs(text);
  if (ms !== undefined && ms > 0 && ms <= maxMs) return ms;
  const bound = maxMs >= MAX_DURATION_MS ? '' : `, at most ${durationText(maxMs)}`;
  throw new InvalidArgumentError(`expected a duration such as 500ms, 10s, 2m, 12h or 30d${bound}`);
}

/** A process id: 1 to PID_MAX_LIMIT. */
export function pidValue(text: string): number {
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (Number.isSafeInteger(n) && n >= 1 && n <= PID_MAX_LIMIT) return n;
  throw new InvalidArgumentError(`expected a process id, a whole number from 1 to ${PID_MAX_LIMIT}`);
}

// The argParsers, as commander calls them: (text, previous value) → value.

export const integerFlag =
  (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  (text: string): number =>
    integerValue(text, { min, max });

/** A duration that ends up as a timer (bounded by MAX_TIMER_MS). */
export const timerFlag = (text: string): number => durationValue(text, MAX_TIMER_MS);

/** A duration that is only compared with times (retention, "back from now"). */
export const durationFlag = (text: string): number => durationValue(text);

export const pidFlag = (text: string): number => pidValue(text);

/** Repeatable and comma-separated pids: --pid 1 --pid 2,3. */
export const pidListFlag = (text: string, previous: number[] = []): number[] => [
  ...previous,
  ...text.split(',').map((t) => pidValue(t.trim())),
];

/** A value that must not be empty (an empty --db must not quietly mean the default store). */
export const nonEmptyFlag = (text: string): string => {
  if (text.trim() === '') throw new InvalidArgumentError('expected a value, got an empty one');
  return text;
};

/**
 * A host name that a tracer presents as its own (`memlens trace --host-name`): 1 to 64 characters
 * (HOST_NAME_MAX, include/uapi/linux/utsname.h __NEW_UTS_LEN), letters, digits and . _ - :, starting
 * with a letter or digit: what host names, FQDNs and IPv6 addresses need, and nothing that a terminal,
 * a shell or the dashboard's ?host= could take for something else.
 */
export function hostNameFlag(text: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(text)) return text;
  throw new InvalidArgumentError(
    'expected a host name of 1 to 64 letters, digits, . _ - or :, starting with a letter or digit',
  );
}
