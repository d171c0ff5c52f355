// Bad bytes inside a memtrace trace. Kept distinct from other errors so the decoder recovers
// from bad data (skip and count) while bugs, including a visitor's, still surface.
export class CorruptDataError extends Error {
  override name = 'CorruptDataError';
}
