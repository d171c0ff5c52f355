// Location events (src/location_codec.ml): `u64 code, u8 nlocs`, then nlocs 6-byte records
// (u32 low + u16 high = 48 bits: line 20, start_char 8, end_char 10, filename code 5,
// defname code 5). Filenames go through a 31-entry move-to-front table; each filename owns
// its own 31-entry defname table. Code 31 = a new NUL-terminated string follows.
import { CorruptDataError } from './corrupt.js';
import type { Cursor } from '../../base/cursor.js';
import type { SourceLocation } from './types.js';

const MTF_LENGTH = 31;
const NEW_ENTRY = 31;

interface MtfEntry<T> {
  name: string;
  value: T;
}

/** A move-to-front table of 31 entries; undefined = empty. */
class MtfTable<T> {
  readonly entries: (MtfEntry<T> | undefined)[] = new Array<MtfEntry<T> | undefined>(MTF_LENGTH).fill(undefined);

  /** Moves entry i to the front; throws if it is empty (a desynchronised or corrupt stream). */
  use(i: number): MtfEntry<T> {
    const e = this.entries[i];
    if (e === undefined) throw new CorruptDataError(`move-to-front index ${i} names an empty entry`);
    this.entries.copyWithin(1, 0, i);
    this.entries[0] = e;
    return e;
  }

  push(name: string, value: T): MtfEntry<T> {
    this.entries.copyWithin(1, 0, MTF_LENGTH - 1);
    const e = { name, value };
    this.entries[0] = e;
    return e;
  }

  last(): MtfEntry<T> | undefined {
    return this.entries[MTF_LENGTH - 1];
  }
}

type DefnameTable = MtfTable<null>;

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A NUL-terminated string; throws at the end of data if the NUL is missing. */
export function readCString(c: Cursor): string {
  const view = c.view;
  const start = c.offset;
  let end = start;
  const limit = view.byteLength;
  while (end < limit && view.getUint8(end) !== 0) end++;
  if (end >= limit) throw new CorruptDataError('unterminated string');
  const s = decoder.decode(new Uint8Array(view.buffer, view.byteOffset + start, end - start));
  c.seek(end + 1);
  return s;
}

/** Per-domain decoder state for location events. */
export class LocationDecoder {
  private readonly files = new MtfTable<DefnameTable>();

  /** Reads one location event body. Returns the code's two u32 halves and its locations. */
  read(c: Cursor): { low: number; high: number; locations: SourceLocation[] } {
    const low = c.u32();
    const high = c.u32();
    const n = c.u8();
    const locations: SourceLocation[] = [];
    for (let i = 0; i < n; i++) {
      const lo = c.u32();
      const hi = c.u16();
      // 48 bits split over two words: bits 0..31 in lo, 32..47 in hi.
      const line = lo & 0xfffff;
      const startChar = (lo >>> 20) & 0xff;
      const endChar = ((lo >>> 28) | (hi << 4)) & 0x3ff;
      const fileCode = (hi >>> 6) & 0x1f;
      const defCode = (hi >>> 11) & 0x1f;
      let file: MtfEntry<DefnameTable>;
      if (fileCode === NEW_ENTRY) {
        const name = readCString(c);
        // memtrace v001 compatibility (src/location_codec.ml): a new filename inherits the
        // defname table of the entry being pushed off, when the table is full.
        const inherited = this.files.last()?.value ?? new MtfTable<null>();
        file = this.files.push(name, inherited);
      } else {
        file = this.files.use(fileCode);
      }
      const defname = defCode === NEW_ENTRY ? file.value.push(readCString(c), null).name : file.value.use(defCode).name;
      locations.push({ filename: file.name, line, startChar, endChar, defname });
    }
    return { low, high, locations };
  }
}
