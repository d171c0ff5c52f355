// Loads a captured tracefs fixture (fixtures/tracefs/<kernel>-<name>/): the header files, the
// format files of the events memlens enables, and the raw per-CPU pages.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEventFormat, type EventFormat } from '../../src/parsers/tracefs/event-format.js';
import {
  parseEntryHeader,
  parsePageLayout,
  type EntryHeaderTypes,
  type PageLayout,
} from '../../src/parsers/tracefs/page-layout.js';
import { fixturesDir } from '../helpers/paths.js';

export interface TracefsFixture {
  dir: string;
  layout: PageLayout;
  types: EntryHeaderTypes;
  formats: Map<string, EventFormat>;
  cpus: Uint8Array[];
  text: string;
  stats: string[];
}

export function fixtureDirs(): string[] {
  return readdirSync(join(fixturesDir, 'tracefs')).filter((d) => /-(known|overrun)$/.test(d));
}

export function loadFixture(name: string): TracefsFixture {
  const dir = join(fixturesDir, 'tracefs', name);
  const formats = new Map<string, EventFormat>();
  const cpus: Uint8Array[] = [];
  const stats: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.format')) {
      const parsed = parseEventFormat(readFileSync(join(dir, f), 'utf8'), f);
      if (!parsed) throw new Error(`${f} is not a format file`);
      formats.set(f.replace('.format', '').replace('__', '/'), parsed);
    }
  }
  for (let cpu = 0; ; cpu++) {
    try {
      cpus.push(new Uint8Array(readFileSync(join(dir, `cpu${cpu}.raw`))));
      stats.push(readFileSync(join(dir, `cpu${cpu}.stats`), 'utf8'));
    } catch {
      break;
    }
  }
  return {
    dir,
    layout: parsePageLayout(readFileSync(join(dir, 'header_page'), 'utf8'), true),
    types: parseEntryHeader(readFileSync(join(dir, 'header_event'), 'utf8')),
    formats,
    cpus,
    text: readFileSync(join(dir, 'trace.txt'), 'utf8'),
    stats,
  };
}
