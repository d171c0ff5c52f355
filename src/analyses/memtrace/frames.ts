// Turning decoded backtraces into frames: a location code expands to one location per inlined
// function (caller first); codes without a location (never described, or after a corrupt
// location table) stay as their hex code.
import type { CodeKeys } from '../../parsers/memtrace/code-key.js';
import type { SourceLocation } from '../../parsers/memtrace/types.js';

export interface Frame {
  /** undefined: the code has no known location. */
  loc: SourceLocation | undefined;
  code: number;
}

export function frameLabel(f: Frame, keys: CodeKeys): string {
  if (f.loc === undefined) return `0x${keys.code(f.code).toString(16)} (unknown location)`;
  return locationLabel(f.loc);
}

export function locationLabel(l: SourceLocation): string {
  return `${l.defname} (${l.filename}:${l.line})`;
}

export function locationKey(l: SourceLocation): string {
  return `${l.defname}\u0000${l.filename}\u0000${l.line}\u0000${l.startChar}\u0000${l.endChar}`;
}

/** The frames of one location code, innermost (callee) first. */
export function codeFramesInnermostFirst(code: number, locations: Map<number, SourceLocation[]>): Frame[] {
  const locs = locations.get(code);
  if (locs === undefined || locs.length === 0) return [{ loc: undefined, code }];
  const out: Frame[] = [];
  for (let i = locs.length - 1; i >= 0; i--) out.push({ loc: locs[i], code });
  return out;
}
