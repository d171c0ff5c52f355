// Location codes are opaque u64s (pointers to frame descriptors, so below 2^48 in practice).
// They are kept as JS numbers: exact when below 2^53; larger ones (only in odd or corrupt
// traces) are interned to negative numbers, so equal codes always get the same key.

const HIGH_SAFE = 0x200000; // 2^21: high word below this keeps high*2^32+low under 2^53

export class CodeKeys {
  private readonly big = new Map<bigint, number>();
  private readonly bigCodes: bigint[] = [];

  key(low: number, high: number): number {
    if (high < HIGH_SAFE) return high * 0x100000000 + low;
    const code = (BigInt(high) << 32n) | BigInt(low);
    let k = this.big.get(code);
    if (k === undefined) {
      this.bigCodes.push(code);
      k = -this.bigCodes.length;
      this.big.set(code, k);
    }
    return k;
  }

  /** The original u64 code of a key. */
  code(key: number): bigint {
    if (key >= 0) return BigInt(key);
    return this.bigCodes[-key - 1] ?? 0n;
  }
}
