// Units live in the types. /proc mixes kB (really KiB), pages, bytes and nanoseconds;
// every conversion happens once, here, so no bare number has to be guessed at.

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A size in bytes. Safe as a number up to 2^53 (8 PiB), enough for any size /proc reports. */
export type Bytes = Brand<number, 'bytes'>;
/** A count of pages of the system's base page size. */
export type Pages = Brand<number, 'pages'>;
/** Nanoseconds, as a bigint: kernel timestamps exceed 2^53. */
export type Nanoseconds = Brand<bigint, 'ns'>;
/** A virtual address: 64-bit, so a bigint. */
export type Address = Brand<bigint, 'address'>;

export const bytes = (n: number): Bytes => n as Bytes;
export const pages = (n: number): Pages => n as Pages;
export const nanoseconds = (n: bigint): Nanoseconds => n as Nanoseconds;
export const address = (n: bigint): Address => n as Address;

/** The kernel's "kB" in /proc is 1024 bytes (fs/proc/meminfo.c show_val_kb shifts by 10). */
export const kibToBytes = (kib: number): Bytes => (kib * 1024) as Bytes;

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Human binary units (KiB, MiB, GiB), as in the issue: never SI, never the kernel's "kB". */
export function formatBytes(b: Bytes | number | null | undefined): string {
  if (b === null || b === undefined) return 'n/a';
  const neg = b < 0;
  let v = Math.abs(b);
  let i = 0;
  while (v >= 1024 && i < BINARY_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const text =
    i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${BINARY_UNITS[i] ?? '?'}`;
  return neg ? `-${text}` : text;
}
