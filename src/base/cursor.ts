// One read cursor over a DataView for every binary format memlens reads (ftrace ring-buffer
// pages, pagemap, memtrace CTF). Endianness is explicit on every read; 64-bit values come
// back as bigint; reading past the end throws instead of returning zeros.

export class EndOfDataError extends Error {
  override name = 'EndOfDataError';
  constructor(
    readonly offset: number,
    readonly wanted: number,
    readonly length: number,
  ) {
    super(`read of ${wanted} bytes at offset ${offset} passes the end of data (${length} bytes)`);
  }
}

export class Cursor {
  readonly view: DataView;
  offset: number;
  readonly littleEndian: boolean;

  constructor(data: DataView | Uint8Array | ArrayBuffer, littleEndian: boolean, offset = 0) {
    this.view =
      data instanceof DataView
        ? data
        : data instanceof Uint8Array
          ? new DataView(data.buffer, data.byteOffset, data.byteLength)
          : new DataView(data);
    this.littleEndian = littleEndian;
    this.offset = offset;
  }

  get length(): number {
    return this.view.byteLength;
  }

  get remaining(): number {
    return this.view.byteLength - this.offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (n < 0 || at + n > this.view.byteLength) throw new EndOfDataError(at, n, this.view.byteLength);
    this.offset = at + n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  i8(): number {
    return this.view.getInt8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2), this.littleEndian);
  }
  i16(): number {
    return this.view.getInt16(this.need(2), this.littleEndian);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), this.littleEndian);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), this.littleEndian);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.need(8), this.littleEndian);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.need(8), this.littleEndian);
  }
  f64(): number {
    return this.view.getFloat64(this.need(8), this.littleEndian);
  }

  /** A sub-view of the next n bytes (no copy). */
  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return new Uint8Array(this.view.buffer, this.view.byteOffset + at, n);
  }

  skip(n: number): void {
    this.need(n);
  }

  seek(offset: number): void {
    if (offset < 0 || offset > this.view.byteLength) throw new EndOfDataError(offset, 0, this.view.byteLength);
    this.offset = offset;
  }

  /** Aligns the offset up to a multiple of n (n a power of two). */
  align(n: number): void {
    const aligned = (this.offset + n - 1) & ~(n - 1);
    this.seek(aligned);
  }
}
