// memory.stat of a memory cgroup: "key value" lines, values in bytes for sizes.
// v1 (Documentation/admin-guide/cgroup-v1/memory.rst §5.2): cache, rss, rss_huge, shmem,
//   mapped_file, dirty, writeback, swap, …, plus hierarchical total_* copies.
// v2 (Documentation/admin-guide/cgroup-v2.rst "memory.stat"): anon, file, kernel,
//   kernel_stack, pagetables, percpu, sock, vmalloc, shmem, file_mapped, file_dirty, …
import { ParseError } from '../../base/errors.js';
import type { Bytes } from '../../base/units.js';

export interface MemoryStat {
  version: 1 | 2;
  fields: ReadonlyMap<string, number>;
  /** The same figures under one vocabulary, in bytes (undefined when the version lacks it). */
  anonBytes: Bytes | undefined;
  fileBytes: Bytes | undefined;
  shmemBytes: Bytes | undefined;
  fileMappedBytes: Bytes | undefined;
  fileDirtyBytes: Bytes | undefined;
  fileWritebackBytes: Bytes | undefined;
  /** v2 only: kernel memory charged to the cgroup (slab, stacks, page tables, …). */
  kernelBytes: Bytes | undefined;
  slabBytes: Bytes | undefined;
  swapBytes: Bytes | undefined;
}

export function parseMemoryStat(text: string, source = 'memory.stat'): MemoryStat | undefined {
  const fields = new Map<string, number>();
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const v = sp > 0 ? Number(line.slice(sp + 1)) : NaN;
    if (sp <= 0 || !Number.isFinite(v)) {
      if (fields.size === 0) return undefined;
      throw new ParseError(`unexpected line ${JSON.stringify(line.slice(0, 60))}`, source, n);
    }
    fields.set(line.slice(0, sp), v);
  }
  const b = (k: string): Bytes | undefined => fields.get(k) as Bytes | undefined;
  if (fields.has('anon') && fields.has('file')) {
    const slab = fields.has('slab')
      ? b('slab')
      : fields.has('slab_reclaimable')
        ? (((fields.get('slab_reclaimable') ?? 0) + (fields.get('slab_unreclaimable') ?? 0)) as Bytes)
        : undefined;
    return {
      version: 2,
      fields,
      anonBytes: b('anon'),
      fileBytes: b('file'),
      shmemBytes: b('shmem'),
      fileMappedBytes: b('file_mapped'),
      fileDirtyBytes: b('file_dirty'),
      fileWritebackBytes: b('file_writeback'),
      kernelBytes: b('kernel'),
      slabBytes: slab,
      swapBytes: undefined,
    };
  }
  if (fields.has('cache') && fields.has('rss')) {
    // v1: prefer the hierarchical total_* figures, which include descendants like v2 does.
    const t = (k: string): Bytes | undefined => b(`total_${k}`) ?? b(k);
    return {
      version: 1,
      fields,
      anonBytes: t('rss'),
      fileBytes: t('cache'),
      shmemBytes: t('shmem'),
      fileMappedBytes: t('mapped_file'),
      fileDirtyBytes: t('dirty'),
      fileWritebackBytes: t('writeback'),
      kernelBytes: undefined,
      slabBytes: undefined,
      swapBytes: t('swap'),
    };
  }
  return undefined;
}
