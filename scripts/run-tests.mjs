// Runs every compiled test file with Node's own test runner.
// Node 20 cannot glob, so the files are listed here. MEMLENS_TEST_FILTER=substring narrows the set.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = join(root, 'dist', 'test');
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
walk(testRoot);
const filter = process.env.MEMLENS_TEST_FILTER;
const selected = filter ? files.filter((f) => relative(root, f).includes(filter)) : files;
// Tests that trace the kernel, restart databases or boot a VM serialise themselves through
// locks of their own; the rest run two files at a time (the machines have two cores).
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...selected], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
