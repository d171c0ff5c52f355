// Which frames belong to Lwt's machinery. OCaml backtrace slots name the function as
// "Module.fn" (nested modules "A.B.fn"; dune-wrapped library modules "Lib__Module.fn").
// Lwt's modules are all named Lwt or Lwt_<something> (Lwt, Lwt_unix, Lwt_engine, Lwt_main,
// Lwt_sequence, Lwt_mutex, Lwt_stream, Lwt_io, Lwt_list, Lwt_pool, Lwt_result, ... in
// ocsigen/lwt src/core and src/unix). Projects add their own Lwt glue with --lwt-prefix.
import type { SourceLocation } from '../../parsers/memtrace/types.js';

const LWT_MODULE = /^Lwt(_[A-Za-z0-9_]*)?$/;
const LWT_FILE = /(^|\/)lwt(_[a-z0-9_]+)?(\.cppo)?\.ml$/;
/** The recording library's Lwt glue: "Memlens_trace_lwt.task", dune-wrapped "Memlens_trace_lwt__…". */
export const RECORDER_GLUE = /^Memlens_trace_lwt(\.|__|$)/;

export class LwtClassifier {
  constructor(readonly prefixes: readonly string[] = []) {}

  isLwt(loc: SourceLocation): boolean {
    const def = loc.defname;
    for (const p of this.prefixes) if (p !== '' && def.startsWith(p)) return true;
    if (RECORDER_GLUE.test(def)) return true;
    if (def === '' || def === '??') return LWT_FILE.test(loc.filename);
    const dot = def.indexOf('.');
    const first = dot < 0 ? def : def.slice(0, dot);
    // "Lwt_unix__Lwt_engine": the library name comes first in a dune-wrapped module.
    const sep = first.indexOf('__');
    return LWT_MODULE.test(sep < 0 ? first : first.slice(0, sep));
  }
}
