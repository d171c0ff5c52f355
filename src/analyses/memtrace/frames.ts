// Turning decoded backtraces into frames: a location code expands to one location per inlined
// function (caller first); codes without a location (never described, or after a corrupt
// location table) stay as their hex code.
import type { CodeKeys } from '../../parsers/memtrace/code-key.js';
import type { SourceLocation } from '../../parsers/memtrace/types.js';

export interface Frame {
  /** undefined: the code has no known location. */
  loc: SourceLocation | undefined;
  code: number;
  /** The trace described the code with no location at all (code without debug information). */
  noDebugInfo?: boolean;
}

export function frameLabel(f: Frame, keys: CodeKeys): string {
  if (f.loc === undefined)
    return `0x${keys.code(f.code).toString(16)} (${f.noDebugInfo === true ? 'no debug information' : 'unknown location'})`;
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
  if (locs === undefined) return [{ loc: undefined, code }];
  if (locs.length === 0) return [{ loc: undefined, code, noDebugInfo: true }];
  const out: Frame[] = [];
  for (let i = locs.length - 1; i >= 0; i--) out.push({ loc: locs[i], code });
  return out;
}

/**
 * The synthetic root frame of the memlens OCaml recording library (ocaml/, Memlens_trace_lwt):
 * a location with this file name whose function name is the Lwt task that led to the sample.
 */
export const TASK_FRAME_FILENAME = '(memlens task)';

export function isTaskFrame(f: Frame): boolean {
  return f.loc?.filename === TASK_FRAME_FILENAME;
}

/** OCaml's standard library: allocation helpers (Bytes.make, Hashtbl.add) rather than sites. */
export function isStdlib(l: SourceLocation): boolean {
  const d = l.defname;
  return d.startsWith('Stdlib.') || d.startsWith('Stdlib__') || d === 'Stdlib' || d.startsWith('Camlinternal');
}
