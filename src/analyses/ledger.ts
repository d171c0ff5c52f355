// The ledger: all of MemTotal split into parts that do not overlap, each byte once, with an
// explicit "unaccounted" remainder. Overlap decisions (Documentation/filesystems/proc.rst
// "meminfo"; fs/proc/meminfo.c meminfo_proc_show):
// - Cached = file pages − SwapCached − Buffers, and Cached INCLUDES Shmem (tmpfs, SysV shm,
//   shared anonymous, memfd), so page cache here is Cached − Shmem and Shmem is its own part.
// - Slab = SReclaimable + SUnreclaim; KReclaimable ⊇ SReclaimable, so KReclaimable is never
//   added (it would count reclaimable slab twice).
// - AnonHugePages ⊂ AnonPages, ShmemHugePages ⊂ Shmem, Mapped ⊂ Cached, Dirty and Writeback ⊂
//   page cache: shown as "of which" details, never added.
// - KernelStack vs VmallocUsed: with CONFIG_VMAP_STACK, thread stacks are vmalloc'ed
//   (kernel/fork.c alloc_thread_stack_node → __vmalloc_node_range) and each stack page is
//   counted in NR_KERNEL_STACK_KB by account_kernel_stack; the same pages are counted in
//   VmallocUsed (mm/vmalloc.c __vmalloc_area_node adds every page to the vmalloc page count).
//   So with VMAP_STACK the vmalloc part is VmallocUsed − KernelStack.
// - Hugetlb is a preallocated pool outside MemFree and every other counter (proc.rst).
// - Older kernels print fewer counters. What they do not count is not guessed: it stays inside
//   "unaccounted", and Ledger.unavailable says which part is missing and why (docs/snapshot.md
//   "Older kernels"): no Percpu line before 4.16; VmallocUsed printed as 0 from 4.4 (commit
//   a5ad88ce8c7f) until 5.3 (commit 97105f0ab7b8), so a 0 there means "not counted", never
//   "no vmalloc memory" (kernel modules alone are vmalloc-ed).
// - Zswap is the compressed pool, memory the kernel allocated; Zswapped (the original size) is
//   not RAM and is not added.
// - HighTotal/HighFree/LowTotal/LowFree (32-bit kernels with CONFIG_HIGHMEM, e.g. Debian's armmp;
//   fs/proc/meminfo.c prints them under CONFIG_HIGHMEM, from si_meminfo's totalhigh/freehigh) split
//   MemTotal and MemFree by zone, a different cut from the ledger's: LowTotal = MemTotal − HighTotal
//   and LowFree = MemFree − HighFree. So they are never added: MemTotal gets them as "of which"
//   figures (Ledger.highmem) and free gets "of which in high/low memory" details.
// - SwapCached can overlap AnonPages (a page swapped back in stays in the swap cache while
//   mapped); the overlap is unknown from meminfo, so it shows up as a smaller or negative
//   unaccounted remainder rather than being guessed.
import type { Bytes } from '../base/units.js';
import { meminfoBytes, type Meminfo } from '../parsers/proc/meminfo.js';
import { slabCacheBytes, type SlabCache } from '../parsers/proc/slabinfo.js';

export interface LedgerDetail {
  key: string;
  label: string;
  bytes: Bytes;
  /** The counters this figure comes from. */
  counters: string[];
}

export interface LedgerItem {
  key: string;
  label: string;
  bytes: Bytes;
  /** The counters this figure comes from, e.g. ["Cached", "Shmem"]. */
  counters: string[];
  /** How bytes is computed from the counters, e.g. "Cached − Shmem". */
  formula: string;
  /** Children: they split this item exactly (their bytes sum to this item's bytes). */
  items?: LedgerItem[];
  /** "Of which" figures: parts of this item that may overlap each other; never added. */
  details?: LedgerDetail[];
  note?: string;
}

/** 'kernel version': a kernel before 4.9, which has no CONFIG_VMAP_STACK (added by commit ba14a194a434). */
export type VmapStackSource = 'kernel config' | 'kernel version' | 'assumed';

export interface LedgerOptions {
  /** /proc/slabinfo caches when readable (root only): the largest are listed under slab. */
  slabCaches?: readonly SlabCache[];
  pageSize?: number;
  /** CONFIG_VMAP_STACK when known (from /proc/config.gz); undefined = decide from counters. */
  vmapStack?: boolean;
  /** Where vmapStack comes from (default 'kernel config'). */
  vmapStackSource?: Exclude<VmapStackSource, 'assumed'>;
  /** How many slab caches to list (default 8). */
  topSlabCaches?: number;
}

export interface Ledger {
  totalBytes: Bytes;
  /** Top-level parts; their bytes sum to totalBytes exactly; the last one is "unaccounted". */
  items: LedgerItem[];
  unaccountedBytes: Bytes;
  /** True when the remainder is negative: the counters contradict each other. */
  inconsistent: boolean;
  vmapStack: { value: boolean; source: VmapStackSource };
  notes: string[];
  /** Parts this kernel does not count: not in items, so their memory is inside "unaccounted". */
  unavailable: LedgerGap[];
  /** The zone split of a 32-bit kernel with CONFIG_HIGHMEM (HighTotal in meminfo); not added. */
  highmem?: Highmem;
}

/** Low memory is mapped by the kernel all the time; high memory only on demand (kmap). */
export interface Highmem {
  highTotalBytes: Bytes;
  highFreeBytes: Bytes;
  lowTotalBytes: Bytes;
  lowFreeBytes: Bytes;
}

export interface LedgerGap {
  key: string;
  label: string;
  /** Why the part is missing, e.g. "no Percpu line in /proc/meminfo (Linux 4.16+)". */
  reason: string;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function leaf(
  key: string,
  label: string,
  bytes: number,
  counters: string[],
  formula: string,
  extra: Partial<LedgerItem> = {},
): LedgerItem {
  return { key, label, bytes: bytes as Bytes, counters, formula, ...extra };
}

function parent(key: string, label: string, items: LedgerItem[], extra: Partial<LedgerItem> = {}): LedgerItem {
  const counters = [...new Set(items.flatMap((i) => i.counters))];
  return {
    key,
    label,
    bytes: sum(items.map((i) => i.bytes)) as Bytes,
    counters,
    formula: items.map((i) => i.key).join(' + '),
    items,
    ...extra,
  };
}

export function buildLedger(mi: Meminfo, options: LedgerOptions = {}): Ledger {
  const b = (k: string): number => meminfoBytes(mi, k);
  const has = (k: string): boolean => mi.sizes.has(k);
  const notes: string[] = [];
  const total = b('MemTotal');

  // Page cache without shmem, split mapped / unmapped.
  const cached = b('Cached');
  const shmem = b('Shmem');
  const pageCache = Math.max(0, cached - shmem);
  if (cached < shmem) notes.push('Cached is smaller than Shmem: the counters were read at different moments');
  const mapped = Math.min(b('Mapped'), pageCache);
  const pageCacheItem = leaf('page_cache', 'page cache (files)', pageCache, ['Cached', 'Shmem'], 'Cached − Shmem', {
    items: [
      leaf('page_cache_mapped', 'mapped into processes', mapped, ['Mapped'], 'min(Mapped, Cached − Shmem)', {
        note: 'Mapped also counts mapped tmpfs/shmem pages (mm/rmap.c accounts every mapped file-backed page), so this can overstate mapped file cache',
      }),
      leaf(
        'page_cache_unmapped',
        'not mapped',
        pageCache - mapped,
        ['Cached', 'Shmem', 'Mapped'],
        '(Cached − Shmem) − mapped',
      ),
    ],
    details: [
      { key: 'dirty', label: 'dirty', bytes: b('Dirty') as Bytes, counters: ['Dirty'] },
      { key: 'writeback', label: 'under writeback', bytes: b('Writeback') as Bytes, counters: ['Writeback'] },
      ...(has('FileHugePages')
        ? [
            {
              key: 'file_huge',
              label: 'in huge pages',
              bytes: b('FileHugePages') as Bytes,
              counters: ['FileHugePages'],
            },
          ]
        : []),
    ],
  });

  // Kernel.
  const slabCaches = options.slabCaches;
  const pageSize = options.pageSize ?? 4096;
  const slabDetails: LedgerDetail[] = slabCaches
    ? slabCaches
        .map((c) => ({ name: c.name, bytes: slabCacheBytes(c, pageSize) }))
        .filter((c) => c.bytes > 0)
        // Equal sizes (one slab of one page is common) in code-unit order of the names, which
        // are ASCII identifiers: localeCompare would first build an ICU collator, which took
        // longer than the rest of the ledger.
        .sort((x, y) => y.bytes - x.bytes || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
        .slice(0, options.topSlabCaches ?? 8)
        .map((c) => ({ key: `slab:${c.name}`, label: c.name, bytes: c.bytes, counters: ['/proc/slabinfo'] }))
    : [];
  const slab = parent(
    'slab',
    'slab',
    [
      leaf(
        'slab_reclaimable',
        'reclaimable (dentries, inodes, …)',
        b('SReclaimable'),
        ['SReclaimable'],
        'SReclaimable',
      ),
      leaf('slab_unreclaimable', 'unreclaimable', b('SUnreclaim'), ['SUnreclaim'], 'SUnreclaim'),
    ],
    slabDetails.length > 0
      ? { details: slabDetails, note: 'details: the largest caches of /proc/slabinfo (slabs × pages per slab)' }
      : {},
  );
  const unavailable: LedgerGap[] = [];
  const kernelStack = b('KernelStack');
  const vmallocUsed = b('VmallocUsed');
  // A kernel always has vmalloc-ed memory (modules, BPF, stacks with VMAP_STACK): 0 or no line
  // means this kernel does not count it.
  const vmallocCounted = vmallocUsed > 0;
  const vmap: Ledger['vmapStack'] =
    options.vmapStack !== undefined
      ? { value: options.vmapStack, source: options.vmapStackSource ?? 'kernel config' }
      : { value: vmallocUsed >= kernelStack && vmallocUsed > 0, source: 'assumed' };
  let vmalloc = vmallocUsed;
  if (vmap.value && vmallocCounted) {
    if (vmallocUsed < kernelStack)
      notes.push('VmallocUsed is smaller than KernelStack although stacks are vmalloc-ed: vmalloc counted as 0');
    vmalloc = Math.max(0, vmallocUsed - kernelStack);
  }
  const kernelItems: LedgerItem[] = [
    slab,
    leaf('kernel_stack', 'kernel stacks', kernelStack, ['KernelStack'], 'KernelStack'),
    leaf('page_tables', 'page tables', b('PageTables'), ['PageTables'], 'PageTables'),
  ];
  if (has('SecPageTables'))
    kernelItems.push(
      leaf(
        'sec_page_tables',
        'secondary page tables (KVM, IOMMU)',
        b('SecPageTables'),
        ['SecPageTables'],
        'SecPageTables',
      ),
    );
  if (vmallocCounted) {
    kernelItems.push(
      leaf(
        'vmalloc',
        'vmalloc',
        vmalloc,
        vmap.value ? ['VmallocUsed', 'KernelStack'] : ['VmallocUsed'],
        vmap.value ? 'VmallocUsed − KernelStack' : 'VmallocUsed',
        {
          note: vmap.value
            ? `kernel stacks are vmalloc-ed (CONFIG_VMAP_STACK, ${vmap.source}) and already counted under kernel stacks`
            : `kernel stacks are not vmalloc-ed (CONFIG_VMAP_STACK off, ${vmap.source})`,
        },
      ),
    );
  } else {
    const reason = has('VmallocUsed')
      ? 'VmallocUsed reads 0: Linux 4.4 to 5.2 do not count vmalloc-ed pages'
      : 'no VmallocUsed line in /proc/meminfo';
    unavailable.push({ key: 'vmalloc', label: 'vmalloc', reason });
    notes.push(`vmalloc n/a (${reason}): vmalloc-ed memory other than kernel stacks is inside unaccounted`);
  }
  if (has('Percpu')) kernelItems.push(leaf('percpu', 'per-CPU allocations', b('Percpu'), ['Percpu'], 'Percpu'));
  else {
    const reason = 'no Percpu line in /proc/meminfo (Linux 4.16+)';
    unavailable.push({ key: 'percpu', label: 'per-CPU allocations', reason });
    notes.push(`per-CPU allocations n/a (${reason}): they are inside unaccounted`);
  }
  for (const [k, key, label] of [
    ['GPUActive', 'gpu_active', 'GPU (active)'],
    ['GPUReclaim', 'gpu_reclaim', 'GPU (reclaimable)'],
  ] as const) {
    if (b(k) > 0) kernelItems.push(leaf(key, label, b(k), [k], k));
  }
  const kernel = parent('kernel', 'kernel', kernelItems);

  const highmem: Highmem | undefined = has('HighTotal')
    ? {
        highTotalBytes: meminfoBytes(mi, 'HighTotal'),
        highFreeBytes: meminfoBytes(mi, 'HighFree'),
        lowTotalBytes: has('LowTotal') ? meminfoBytes(mi, 'LowTotal') : ((total - b('HighTotal')) as Bytes),
        lowFreeBytes: has('LowFree') ? meminfoBytes(mi, 'LowFree') : ((b('MemFree') - b('HighFree')) as Bytes),
      }
    : undefined;
  const items: LedgerItem[] = [
    leaf(
      'free',
      'free',
      b('MemFree'),
      ['MemFree'],
      'MemFree',
      highmem
        ? {
            details: [
              { key: 'free_low', label: 'in low memory', bytes: highmem.lowFreeBytes, counters: ['LowFree'] },
              { key: 'free_high', label: 'in high memory', bytes: highmem.highFreeBytes, counters: ['HighFree'] },
            ],
          }
        : {},
    ),
    pageCacheItem,
    leaf('buffers', 'buffers (block device cache)', b('Buffers'), ['Buffers'], 'Buffers'),
    leaf('shmem', 'shared memory (tmpfs, SysV, memfd, shared anonymous)', shmem, ['Shmem'], 'Shmem', {
      details: has('ShmemHugePages')
        ? [
            {
              key: 'shmem_huge',
              label: 'in huge pages',
              bytes: b('ShmemHugePages') as Bytes,
              counters: ['ShmemHugePages'],
            },
          ]
        : [],
      note: 'counted inside Cached by the kernel; taken out of page cache here',
    }),
    leaf('anon', 'anonymous memory of processes', b('AnonPages'), ['AnonPages'], 'AnonPages', {
      details: has('AnonHugePages')
        ? [
            {
              key: 'anon_huge',
              label: 'in transparent huge pages',
              bytes: b('AnonHugePages') as Bytes,
              counters: ['AnonHugePages'],
            },
          ]
        : [],
    }),
    leaf('swap_cache', 'swap cache', b('SwapCached'), ['SwapCached'], 'SwapCached', {
      note: 'pages that are both in the swap cache and mapped are also in AnonPages; that overlap makes unaccounted smaller',
    }),
    kernel,
  ];
  const hugetlb = has('Hugetlb') ? b('Hugetlb') : (mi.counts.get('HugePages_Total') ?? 0) * b('Hugepagesize');
  items.push(
    leaf(
      'hugetlb',
      'hugetlb pool',
      hugetlb,
      has('Hugetlb') ? ['Hugetlb'] : ['HugePages_Total', 'Hugepagesize'],
      has('Hugetlb') ? 'Hugetlb' : 'HugePages_Total × Hugepagesize',
      { note: 'preallocated huge pages, used or not; not in any process RSS/PSS' },
    ),
  );
  if (has('Zswap')) items.push(leaf('zswap', 'zswap compressed pool', b('Zswap'), ['Zswap'], 'Zswap'));
  if (b('Unaccepted') > 0)
    items.push(leaf('unaccepted', 'not yet accepted by the guest', b('Unaccepted'), ['Unaccepted'], 'Unaccepted'));
  if (b('Balloon') > 0)
    notes.push(
      'Balloon pages are left in unaccounted: whether the balloon driver keeps them inside MemTotal depends on the driver',
    );

  const accounted = sum(items.map((i) => i.bytes));
  const unaccounted = total - accounted;
  items.push(
    leaf(
      'unaccounted',
      'unaccounted (kernel and driver memory no counter shows)',
      unaccounted,
      ['MemTotal'],
      'MemTotal − all of the above',
      {
        note:
          unaccounted < 0
            ? 'NEGATIVE: the counters overlap or were read at different moments (counter inconsistency)'
            : 'direct page allocations by drivers, network buffers, DMA buffers and the like',
      },
    ),
  );
  if (unaccounted < 0)
    notes.push(`the counters add up to more than MemTotal by ${-unaccounted} bytes: a counter inconsistency`);
  return {
    totalBytes: total as Bytes,
    items,
    unaccountedBytes: unaccounted as Bytes,
    inconsistent: unaccounted < 0,
    vmapStack: vmap,
    notes,
    unavailable,
    ...(highmem ? { highmem } : {}),
  };
}

/** Parses CONFIG_VMAP_STACK out of a kernel config text (/proc/config.gz, gunzipped). */
export function vmapStackFromConfig(configText: string): boolean | undefined {
  if (/^CONFIG_VMAP_STACK=y$/m.test(configText)) return true;
  if (/^# CONFIG_VMAP_STACK is not set$/m.test(configText)) return false;
  // A config without the line at all: the architecture lacks HAVE_ARCH_VMAP_STACK.
  return /^CONFIG_/m.test(configText) ? false : undefined;
}
