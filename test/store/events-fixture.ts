// Event makers for store tests: hand-made edge cases and seeded random streams.
import type { SeededRandom } from '../../src/base/random.js';
import type { MemCall, MemEvent } from '../../src/wire/events.js';

export function event(over: Partial<MemEvent> = {}): MemEvent {
  return {
    timeMs: 1_763_900_000_000,
    ktimeNs: 1_000_000_000n,
    host: 'alpha',
    pid: 100,
    tid: 100,
    name: 'proc',
    thread: 'proc',
    call: 'mmap',
    addr: 0n,
    lengthBytes: 4096n,
    prot: 3,
    flags: 0x22,
    fd: -1,
    result: 0x7f00_0000_0000n,
    error: null,
    newLengthBytes: null,
    newAddr: null,
    ...over,
  };
}

const CALLS: readonly MemCall[] = ['mmap', 'munmap', 'brk', 'mremap', 'mprotect'];
const ERRORS = ['EBADF', 'ENOMEM', 'EINVAL'];

/**
 * A random stream in kernel-time order over a few hosts and pids: lengths up to 2^40 with some past
 * 2^53, about 15 % failed calls, munmaps that can exceed what was mapped (requested then floors at 0).
 */
export function randomEvents(rng: SeededRandom, n: number, startKtime: bigint, hosts = ['alpha', 'beta']): MemEvent[] {
  const out: MemEvent[] = [];
  let ktime = startKtime;
  for (let i = 0; i < n; i++) {
    ktime += BigInt(rng.int(1, 5000));
    const call = CALLS[rng.int(0, CALLS.length - 1)] ?? 'mmap';
    const failed = rng.next() < 0.15;
    const pid = rng.int(1, 12);
    const big = rng.next() < 0.05;
    const lengthBytes = big ? (1n << 53n) + BigInt(rng.int(1, 1 << 20)) : BigInt(rng.int(1, 1 << 20)) * 4096n;
    const err = ERRORS[rng.int(0, ERRORS.length - 1)] ?? 'EINVAL';
    out.push(
      event({
        timeMs: 1_763_900_000_000 + Number(ktime / 1_000_000n),
        ktimeNs: ktime,
        host: hosts[rng.int(0, hosts.length - 1)] ?? 'alpha',
        pid,
        tid: pid + (rng.next() < 0.3 ? 1000 : 0),
        name: `p${pid}-${rng.int(0, 1)}`,
        thread: `t${rng.int(0, 3)}`,
        call,
        addr: BigInt(rng.int(0, 1 << 30)) * 4096n,
        lengthBytes: call === 'brk' ? 0n : lengthBytes,
        prot: call === 'mmap' ? 3 : call === 'mprotect' ? rng.int(0, 7) : null,
        flags: call === 'mmap' ? 0x22 : call === 'mremap' ? 1 : null,
        fd: call === 'mmap' ? -1 : null,
        result: failed ? -BigInt(rng.int(1, 30)) : 0x7f00_0000_0000n + BigInt(i) * 4096n,
        error: failed ? err : null,
        newLengthBytes: call === 'mremap' ? lengthBytes * 2n : null,
        newAddr: call === 'mremap' ? 0n : null,
      }),
    );
  }
  return out;
}

export const withoutId = ({ id: _id, ...e }: MemEvent & { id: number }): MemEvent => e;
