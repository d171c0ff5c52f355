// The docs are the reference of every command: each flag that `--help` lists must appear in the
// command's page, and every relative link in the README and docs must name a file that exists.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';

const PAGES: Record<string, string> = {
  snapshot: 'snapshot.md',
  process: 'snapshot.md',
  capture: 'capture.md',
  trace: 'trace.md',
  events: 'trace.md',
  serve: 'serve.md',
  dirty: 'dirty.md',
  memtrace: 'memtrace.md',
  pages: 'pages.md',
};

describe('every flag of every command is in its docs page', () => {
  for (const [command, page] of Object.entries(PAGES)) {
    test(`${command} → docs/${page}`, async () => {
      const help = await runCliInProcess([command, '--help']);
      assert.equal(help.code, 0, help.stderr);
      const text = readFileSync(join(repoRoot, 'docs', page), 'utf8');
      const flags = [...new Set(help.stdout.match(/--[a-z][a-z0-9-]*/g) ?? [])].filter((f) => f !== '--help');
      assert.ok(flags.length > 0 || command === 'process', `no flags read from ${command} --help`);
      const missing = flags.filter((f) => !new RegExp(`${f}(?![a-z0-9-])`).test(text));
      assert.deepEqual(missing, [], `flags of memlens ${command} missing from docs/${page}`);
    });
  }
});

function markdownFiles(): string[] {
  const files = [join(repoRoot, 'README.md'), join(repoRoot, 'bench', 'README.md')];
  for (const name of readdirSync(join(repoRoot, 'docs')))
    if (name.endsWith('.md')) files.push(join(repoRoot, 'docs', name));
  return files;
}

test('relative links in the README and docs resolve', () => {
  const broken: string[] = [];
  for (const file of markdownFiles()) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] ?? '';
      if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
      const path = target.split('#')[0] ?? '';
      if (!existsSync(join(dirname(file), path))) broken.push(`${file.slice(repoRoot.length + 1)}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});
