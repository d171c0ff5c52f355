// An independent writer of capture archives for hand-made test cases: the format as documented
// in scripts/capture.sh, written here a second time so that the parser is checked against the
// documentation rather than against itself.

export type TestRecord = { kind: 'F' | 'L' | 'E' | 'M'; name: string; payload: string | Uint8Array };

const encoder = new TextEncoder();

export function writeArchive(records: TestRecord[], opts: { version?: string; endCount?: number } = {}): Uint8Array {
  return writeSeries([records], { version: opts.version ?? '1', endCounts: [opts.endCount] });
}

/** A series (format version 2 unless told): each snapshot's records, then its end marker. */
export function writeSeries(
  snapshots: TestRecord[][],
  opts: { endCounts?: (number | undefined)[]; version?: string } = {},
): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`memlens-capture ${opts.version ?? '2'}\n`)];
  snapshots.forEach((records, k) => {
    for (const r of records) {
      const payload = typeof r.payload === 'string' ? encoder.encode(r.payload) : r.payload;
      parts.push(encoder.encode(`${r.kind} ${payload.length} ${r.name}\n`), payload, encoder.encode('\n'));
    }
    parts.push(encoder.encode(`end ${opts.endCounts?.[k] ?? records.length}\n`));
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
