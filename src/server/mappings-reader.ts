// The process detail's mappings, grouped by kind, read from a ProcSource: one reader for the live
// server and for the read-only server over an archive, which differ only in why a read failed.
import { MAPPING_KIND_LABELS, collectProcessMappings } from '../analyses/mappings.js';
import type { ProcSource } from '../sources/proc-source.js';
import type { MappingsReader } from './inputs.js';

/** What the detail says when smaps could not be read, by the reason the read gave. */
export interface MappingsFailureText {
  permission: string;
  missing: string;
}

export function mappingsReader(source: ProcSource, failure: MappingsFailureText): MappingsReader {
  return async (pid) => {
    const r = await collectProcessMappings(source, pid);
    if (!r.ok)
      return {
        error:
          r.reason === 'permission'
            ? failure.permission
            : r.reason === 'missing'
              ? failure.missing
              : 'a kernel thread has no mappings',
      };
    return {
      rows: r.value.kinds.map((k) => ({
        kind: MAPPING_KIND_LABELS[k.kind],
        count: k.mappings,
        sizeBytes: k.sizeBytes,
        rssBytes: k.rssBytes,
        pssBytes: k.pssBytes,
      })),
    };
  };
}
