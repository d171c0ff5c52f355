import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ParseError } from '../../src/base/errors.js';
import { memoryCgroupPath, parseCgroupFile } from '../../src/parsers/proc/cgroup.js';
import { parseCmdline } from '../../src/parsers/proc/cmdline.js';
import { parseComm } from '../../src/parsers/proc/comm.js';
import { parseMaps, parseVmaHeader } from '../../src/parsers/proc/maps.js';
import { parseMemoryStat } from '../../src/parsers/proc/memory-stat.js';
import { meminfoBytes, parseMeminfo } from '../../src/parsers/proc/meminfo.js';
import { parsePasswd } from '../../src/parsers/proc/passwd.js';
import { parseSlabinfo, slabCacheBytes } from '../../src/parsers/proc/slabinfo.js';
import { parseSmaps, parseSmapsRollup, ussBytes } from '../../src/parsers/proc/smaps.js';
import { isKernelThreadFlags, parseStat } from '../../src/parsers/proc/stat.js';
import { parseStatm } from '../../src/parsers/proc/statm.js';
import { parseStatus, unescapeStatusName } from '../../src/parsers/proc/status.js';
import { parseVmstat } from '../../src/parsers/proc/vmstat.js';
import {
  KERNEL_THREADS,
  MEMLOAD_CHILDREN,
  MEMLOAD_PARENT,
  fixtureFiles,
  fixturePids,
  readFixture,
  readFixtureBytes,
  vmDir,
} from './fixtures.js';

const WEIRD = 'x) (y z\n\ufffd';

test('meminfo: kB fields become bytes, HugePages_* stay counts', () => {
  const mi = parseMeminfo(readFixture('vm-6.18', 'meminfo'));
  assert.ok(mi);
  assert.equal(meminfoBytes(mi, 'MemTotal'), 24684084 * 1024);
  assert.equal(mi.counts.get('HugePages_Total'), 0);
  assert.ok(!mi.sizes.has('HugePages_Total'));
  assert.equal(meminfoBytes(mi, 'NoSuchField'), 0);
  assert.equal(parseMeminfo('hello world\n'), undefined);
  assert.throws(() => parseMeminfo('MemTotal: 10 kB\nbroken line\n'), ParseError);
});

test('vmstat: names and numbers', () => {
  const vm = parseVmstat(readFixture('vm-6.18', 'vmstat'));
  assert.ok(vm);
  assert.ok((vm.get('nr_free_pages') ?? 0) > 0);
  assert.equal(parseVmstat('not vmstat\n'), undefined);
});

test('status: every captured process parses; names with ") (", spaces, newline and invalid UTF-8', () => {
  for (const pid of fixturePids(vmDir)) {
    const st = parseStatus(readFixture('vm-6.18', String(pid), 'status'));
    assert.ok(st, `status of ${pid}`);
    assert.equal(st.pid, pid);
  }
  for (const pid of MEMLOAD_CHILDREN) {
    const st = parseStatus(readFixture('vm-6.18', String(pid), 'status'));
    assert.equal(st?.name, WEIRD);
    assert.equal(st.ppid, MEMLOAD_PARENT);
    assert.equal(st.kthread, false);
  }
  const kt = parseStatus(readFixture('vm-6.18', '2', 'status'));
  assert.equal(kt?.kthread, true);
  assert.equal(kt.vmSizeBytes, undefined, 'a kernel thread has no mm');
  const esc = parseStatus(readFixture('edge', 'status-escaped-name'));
  assert.equal(esc?.name, 'back\\slash\nnl');
  assert.deepEqual(esc.uids, [1000, 1001, 1002, 1003]);
  assert.equal(esc.vmSwapBytes, 12 * 1024);
  assert.equal(esc.kthread, undefined, 'older kernels print no Kthread line');
  assert.equal(parseStatus(readFixture('edge', 'status-leading-spaces-no-mm'))?.name, '  lead');
  assert.equal(unescapeStatusName('a\\\\nb'), 'a\\nb', 'an escaped backslash followed by n is not a newline');
});

test('stat: comm ends at the last ")"; PF_KTHREAD from field 9', () => {
  const s = parseStat(readFixture('edge', 'stat-parens'));
  assert.equal(s?.comm, 'a) (b) c');
  assert.equal(s.state, 'S');
  assert.equal(s.ppid, 1);
  assert.equal(s.numThreads, 3);
  assert.equal(s.vsizeBytes, 12345678);
  assert.equal(s.rssPages, 321);
  assert.equal(isKernelThreadFlags(s.flags), false);
  assert.equal(isKernelThreadFlags(parseStat(readFixture('edge', 'stat-kthread-flags'))?.flags ?? 0), true);
  for (const pid of KERNEL_THREADS)
    assert.equal(
      isKernelThreadFlags(parseStat(readFixture('vm-6.18', String(pid), 'stat'))?.flags ?? 0),
      true,
      `pid ${pid}`,
    );
  for (const pid of MEMLOAD_CHILDREN) {
    const st = parseStat(readFixture('vm-6.18', String(pid), 'stat'));
    assert.equal(st?.comm, WEIRD);
    assert.equal(st.ppid, MEMLOAD_PARENT);
    assert.equal(isKernelThreadFlags(st.flags), false);
  }
  assert.equal(parseStat('garbage'), undefined);
});

test('statm: pages times page size', () => {
  const s = parseStatm(readFixture('vm-6.18', String(MEMLOAD_PARENT), 'statm'), 4096);
  const st = parseStatus(readFixture('vm-6.18', String(MEMLOAD_PARENT), 'status'));
  assert.equal(s?.sizeBytes, st?.vmSizeBytes);
  assert.equal(s?.residentBytes, st?.vmRssBytes);
  assert.equal(s?.sharedBytes, (st?.rssFileBytes ?? 0) + (st?.rssShmemBytes ?? 0));
});

test('cmdline: NUL-separated, invalid UTF-8 replaced, kernel threads empty, setproctitle kept', () => {
  const args = parseCmdline(readFixtureBytes('vm-6.18', String(MEMLOAD_PARENT), 'cmdline'));
  assert.equal(args.length, 8);
  assert.equal(args[5], WEIRD);
  assert.equal(args[6], 'arg\ufffd\ufffdend');
  assert.equal(args[7], 'two words');
  assert.deepEqual(parseCmdline(readFixtureBytes('vm-6.18', '2', 'cmdline')), []);
  assert.deepEqual(parseCmdline(readFixtureBytes('edge', 'cmdline-setproctitle')), [
    'sshd: root@pts/0                         ',
  ]);
  assert.deepEqual(parseCmdline(new Uint8Array([0x61, 0, 0, 0x62, 0])), ['a', '', 'b']);
});

test('comm: raw bytes, trailing newline removed, inner newline kept', () => {
  assert.equal(parseComm(readFixtureBytes('vm-6.18', String(MEMLOAD_CHILDREN[0]), 'comm')), WEIRD);
  assert.equal(parseComm(readFixtureBytes('vm-6.18', '2', 'comm')), 'kthreadd');
});

test('smaps_rollup: all captured rollups; USS = Private_Clean + Private_Dirty; a 4.14 rollup lacks Pss_Anon', () => {
  for (const f of fixtureFiles('smaps_rollup')) {
    const text = readFileSync(f, 'utf8');
    if (text === '') continue; // a kernel thread: no mm, nothing to roll up
    const r = parseSmapsRollup(text);
    assert.ok(r, f);
    assert.ok(r.pssBytes <= r.rssBytes, f);
    assert.ok(ussBytes(r) <= r.pssBytes, f);
  }
  const old = parseSmapsRollup(readFixture('edge', 'smaps_rollup-4.14'));
  assert.equal(old?.pssAnonBytes, undefined);
  assert.equal(old?.pssBytes, 385 * 1024);
  assert.equal(ussBytes(old), 384 * 1024);
  const cur = parseSmapsRollup(readFixture('vm-6.18', String(MEMLOAD_PARENT), 'smaps_rollup'));
  assert.ok(cur?.pssAnonBytes !== undefined && cur.pssFileBytes !== undefined && cur.pssShmemBytes !== undefined);
  // Pss = Pss_Anon + Pss_File + Pss_Shmem, each line truncated to whole kB on its own.
  const parts = cur.pssAnonBytes + cur.pssFileBytes + cur.pssShmemBytes;
  assert.ok(parts <= cur.pssBytes && cur.pssBytes - parts < 3 * 1024, `${parts} vs ${cur.pssBytes}`);
  assert.equal(parseSmapsRollup(''), undefined);
  assert.equal(parseSmapsRollup('hello\nworld\n'), undefined);
});

test('smaps and maps: same VMAs in the same order; names of memfd, SysV, shared anonymous, [anon:…]', () => {
  for (const pid of fixturePids(vmDir)) {
    const mapsText = readFixture('vm-6.18', String(pid), 'maps');
    const smapsText = readFixture('vm-6.18', String(pid), 'smaps');
    const maps = parseMaps(mapsText);
    const smaps = parseSmaps(smapsText) ?? [];
    assert.equal(maps.badLines, 0);
    if (KERNEL_THREADS.includes(pid)) {
      assert.equal(maps.vmas.length, 0);
      continue;
    }
    assert.ok(smaps.length > 0, `smaps of ${pid}`);
    if (pid === MEMLOAD_PARENT || MEMLOAD_CHILDREN.includes(pid)) {
      // stopped while captured: maps and smaps show the same address space
      assert.deepEqual(
        smaps.map((v) => [v.start, v.end, v.name]),
        maps.vmas.map((v) => [v.start, v.end, v.name]),
      );
    }
    for (const v of smaps) assert.equal(v.counters.sizeBytes, Number(v.end - v.start), `${pid} ${v.name}`);
  }
  const names = (parseSmaps(readFixture('vm-6.18', String(MEMLOAD_PARENT), 'smaps')) ?? []).map((v) => v.name);
  assert.ok(names.includes('/memfd:memlens-memfd (deleted)'));
  assert.ok(names.some((n) => /^\/SYSV00000000 \(deleted\)$/.test(n)));
  assert.ok(names.includes('/dev/zero (deleted)'));
  // This kernel lacks CONFIG_ANON_VMA_NAME: the child's private 4 MiB is a plain anonymous VMA.
  const child = parseSmaps(readFixture('vm-6.18', String(MEMLOAD_CHILDREN[0]), 'smaps')) ?? [];
  const priv = child.find((v) => v.name === '' && v.counters.sizeBytes === 4 * 1024 * 1024);
  assert.equal(priv?.counters.rssBytes, 4 * 1024 * 1024);
  assert.equal(priv.counters.privateDirtyBytes, 4 * 1024 * 1024);
  assert.ok(priv.vmFlags.includes('wr'));
  // Named anonymous VMAs (hand-made from the same blocks, renamed as the kernel prints them).
  const named = parseSmaps(readFixture('edge', 'smaps-anon-names')) ?? [];
  assert.deepEqual(
    named.map((v) => [v.name, v.perms, v.counters.rssBytes]),
    [
      ['[anon:memlens-private]', 'rw-p', 4 * 1024 * 1024],
      ['[anon_shmem:ring]', 'rw-s', 8 * 1024 * 1024],
    ],
  );
  const h = parseVmaHeader(
    '7f00aa000000-7f00aa001000 rw-s 00001000 00:05 42                         /path with spaces/file (deleted)',
  );
  assert.equal(h?.name, '/path with spaces/file (deleted)');
  assert.equal(h.offset, 0x1000n);
  assert.equal(h.perms, 'rw-s');
  assert.equal(parseVmaHeader('ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0')?.name, '');
  assert.equal(parseSmaps('not smaps\n'), undefined);
});

test('cgroup file: v1 memory controller wins on a hybrid system, v2 alone otherwise', () => {
  const hybrid = parseCgroupFile(readFixture('cgroup', 'v1-hybrid.cgroup'));
  assert.equal(hybrid.length, 10);
  assert.match(memoryCgroupPath(hybrid) ?? '', /^\/machine\.grp\//);
  assert.equal(memoryCgroupPath(parseCgroupFile('0::/system.slice/ssh.service\n')), '/system.slice/ssh.service');
  assert.equal(memoryCgroupPath(parseCgroupFile('1:name=systemd:/user.slice\n')), '/user.slice');
  assert.equal(memoryCgroupPath([]), undefined);
});

test('memory.stat v1 (captured) and v2', () => {
  for (const f of fixtureFiles('v1-root.memory.stat').concat(fixtureFiles('v1-child.memory.stat'))) {
    const ms = parseMemoryStat(readFileSync(f, 'utf8'));
    assert.equal(ms?.version, 1, f);
    assert.equal(ms.anonBytes, ms.fields.get('total_rss'));
    assert.equal(ms.shmemBytes, ms.fields.get('total_shmem'));
  }
  for (const f of fixtureFiles('v2-work.memory.stat').concat(fixtureFiles('v2-root.memory.stat'))) {
    const ms = parseMemoryStat(readFileSync(f, 'utf8'));
    assert.equal(ms?.version, 2, f);
    assert.equal(ms.anonBytes, ms.fields.get('anon'));
    assert.equal(ms.fileBytes, ms.fields.get('file'));
  }
  assert.equal(parseMemoryStat('foo bar\n'), undefined);
  assert.equal(parseMemoryStat('x 1\ny 2\n'), undefined);
});

test('slabinfo: every cache; bytes = slabs × pages per slab × page size', () => {
  const caches = parseSlabinfo(readFixture('vm-6.18', 'slabinfo'));
  assert.ok(caches && caches.length > 50);
  const dentry = caches.find((c) => c.name === 'dentry');
  assert.ok(dentry);
  assert.equal(slabCacheBytes(dentry, 4096), dentry.numSlabs * dentry.pagesPerSlab * 4096);
  assert.equal(parseSlabinfo('no header\n'), undefined);
});

test('passwd: first entry per uid', () => {
  const m = parsePasswd(
    'root:x:0:0:root:/root:/bin/bash\n# comment\nnobody:x:65534:65534::/:/usr/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nbad line\n',
  );
  assert.equal(m.get(0), 'root');
  assert.equal(m.get(65534), 'nobody');
  assert.equal(m.size, 2);
});

test('the hand-made fixtures exist where the tests expect them', () => {
  assert.ok(readFileSync(join(vmDir, 'config.gz')).length > 1000);
});
