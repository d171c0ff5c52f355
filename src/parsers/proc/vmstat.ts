// /proc/vmstat: "name value" per line (mm/vmstat.c vmstat_show). Counters are numbers:
// they count pages or events and stay far below 2^53 on any real system.
import { ParseError } from '../../base/errors.js';
import { lines } from './fields.js';

export function parseVmstat(text: string, source = 'vmstat'): ReadonlyMap<string, number> | undefined {
  const out = new Map<string, number>();
  let n = 0;
  for (const line of lines(text)) {
    n++;
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const value = sp > 0 ? Number(line.slice(sp + 1)) : NaN;
    if (sp <= 0 || !Number.isFinite(value)) {
      if (out.size === 0) return undefined;
      throw new ParseError(`unexpected line ${JSON.stringify(line.slice(0, 60))}`, source, n);
    }
    out.set(line.slice(0, sp), value);
  }
  return out.size > 0 ? out : undefined;
}
