// tracing/memlens.stp: SystemTap's own parser (-p1) and elaboration (-p2) accept it, and every
// line it prints is one the parser reads. SystemTap cannot load modules on these machines; the
// script runs in a virtual machine in stap-vm.live.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StapOutputParser } from '../../src/parsers/stap.js';
import { repoRoot } from '../helpers/paths.js';
import { waitingFor } from '../helpers/waiting.js';

const script = join(repoRoot, 'tracing', 'memlens.stp');

function stap(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return waitingFor(
    `stap ${args.join(' ').slice(0, 200)} to end`,
    () =>
      new Promise((resolve) => {
        execFile('stap', args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code, stdout, stderr });
        });
      }),
  );
}

/**
 * stap checks for a kernel build tree even in pass 1; parsing needs nothing from it, so a tree
 * with only the files it checks (kernel.release, .config, Module.symvers) is enough.
 */
function fakeBuildTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-stap-tree-'));
  mkdirSync(join(dir, 'include', 'config'), { recursive: true });
  writeFileSync(join(dir, 'include', 'config', 'kernel.release'), '6.1.0-memlens-syntax-check\n');
  writeFileSync(join(dir, '.config'), '');
  writeFileSync(join(dir, 'Module.symvers'), '');
  return dir;
}

test('stap -p1 parses tracing/memlens.stp', async () => {
  const r = await stap(['-p1', '-g', '-r', fakeBuildTree(), script]);
  assert.equal(r.code, 0, r.stderr);
  for (const probe of [
    'syscall.mmap2',
    'syscall.mmap2.return',
    'syscall.munmap.return',
    'syscall.brk.return',
    'syscall.mremap.return',
    'syscall.mprotect.return',
    'kernel.trace("task_newtask")',
    'kernel.trace("sched_process_exec")',
    'kernel.trace("sched_process_exit")',
  ]) {
    assert.ok(r.stdout.includes(`probe ${probe}`), `parse tree has ${probe}`);
  }
});

test('stap -p1 rejects a broken copy (the check can fail)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-stap-bad-'));
  const bad = join(dir, 'bad.stp');
  writeFileSync(bad, readFileSync(script, 'utf8').replace('probe syscall.brk {', 'probe syscall.brk {{'));
  const r = await stap(['-p1', '-g', '-r', fakeBuildTree(), bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /parse error/);
});

/** A kernel with installed headers (Debian's linux-headers-amd64), if any. */
function kernelWithHeaders(): string | undefined {
  if (!existsSync('/lib/modules')) return undefined;
  return readdirSync('/lib/modules').find((v) => existsSync(join('/lib/modules', v, 'build', '.config')));
}

const headers = kernelWithHeaders();
test(
  'stap -p2 elaborates tracing/memlens.stp against installed kernel headers, without debuginfo',
  {
    skip: headers === undefined ? 'no kernel headers installed (.ci/setup-system installs linux-headers-amd64)' : false,
  },
  async () => {
    const r = await stap(['-p2', '-g', '-r', headers ?? '', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /semantic error|never-assigned|eliding/);
    // Without debuginfo or a symbol table the syscall tapset falls back to the raw syscall tracepoints.
    assert.match(r.stdout, /kernel\.trace\("raw_syscalls:sys_enter"\)/);
    assert.match(r.stdout, /kernel\.trace\("raw_syscalls:sys_exit"\)/);
    for (const tp of ['task:task_newtask', 'sched:sched_process_exec', 'sched:sched_process_exit'])
      assert.ok(r.stdout.includes(`kernel.trace("${tp}")`), tp);
  },
);

test('every line memlens.stp prints is one the parser reads', () => {
  const text = readFileSync(script, 'utf8');
  const head = /function head:string[^]*?sprintf\("([^"]*)"/.exec(text)?.[1];
  assert.equal(head, '%d %d %d %d %s %s');
  const formats = [...text.matchAll(/printf\("((?:#|[CFEXRUL] )[^"]*)\\n"/g)].map((m) => m[1] ?? '');
  assert.equal(formats.length, 12, formats.join('\n'));
  // Stand-in values the way stap prints them: head fields, escaped names, decimals, 0x hex.
  const sample = (fmt: string): string => {
    let n = 0;
    return fmt
      .replace(/^C %s/, 'C 1000 1795434000000001000 42 43 name thread')
      .replace(/0x%x/g, '0x10')
      .replace(/%d/g, () => String(++n + 1))
      .replace(/%s/g, 'a\\x20b');
  };
  const p = new StapOutputParser('h');
  const lines = formats.map(sample);
  const records = p.push(new TextEncoder().encode(lines.join('\n') + '\n'));
  assert.equal(p.malformed, 0, `${p.samples.join('; ')}\n${lines.join('\n')}`);
  assert.deepEqual(records.map((r) => r.kind).sort(), [
    'call',
    'call',
    'call',
    'call',
    'call',
    'lifecycle',
    'lifecycle',
    'lifecycle',
    'lifecycle',
    'lost',
    'started',
    'unpaired',
  ]);
});
