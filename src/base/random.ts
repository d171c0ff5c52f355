// A small seeded PRNG (mulberry32) so that tests which split streams at random chunk
// boundaries or corrupt inputs are reproducible from their seed.

export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

/** Splits data into chunks of random sizes in [1, maxChunk]: hostile boundaries for streaming readers. */
export function randomChunks(data: Uint8Array, rng: SeededRandom, maxChunk: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const n = Math.min(rng.int(1, maxChunk), data.length - at);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}
