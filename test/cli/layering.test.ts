// The layering of docs/architecture.md is a lint rule per folder (eslint.config.js). This runs
// ESLint itself on one deliberately wrong import across each boundary, placed in a real file of
// the layer (its text replaced, nothing written), and expects the rule to refuse it; and on an
// allowed import from the same file, and expects nothing from the rule.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import { repoRoot } from '../helpers/paths.js';

const RULE = '@typescript-eslint/no-restricted-imports';
// Only the layering rule runs, on syntax alone: it needs no type information, and building the
// type-checked program for each file was most of this test's time.
const eslint = new ESLint({
  cwd: repoRoot,
  ruleFilter: ({ ruleId }) => ruleId === RULE,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
});

/** The messages of the layering rule for `code` linted as if it were the file at `path`. */
async function refusals(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, path) });
  assert.ok(result, `no lint result for ${path}`);
  const fatal = result.messages.filter((m) => m.fatal === true);
  assert.deepEqual(fatal, [], `${path} did not parse`);
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

const use = (from: string, typeOnly = false): string =>
  typeOnly
    ? `import type { X } from '${from}';\nexport type Y = X;\n`
    : `import { x } from '${from}';\nexport const y = x;\n`;

interface Boundary {
  what: string;
  /** A real file of the layer, whose text is replaced for the lint. */
  file: string;
  /** An import across a boundary; none for the CLI, which sits on top. */
  wrong?: string;
  right: string;
}

const BOUNDARIES: Boundary[] = [
  {
    what: 'base imports nothing above it',
    file: 'src/base/units.ts',
    wrong: use('../wire/messages.js'),
    right: use('./errors.js'),
  },
  {
    what: 'wire does not import parsers',
    file: 'src/wire/messages.ts',
    wrong: use('../parsers/proc/stat.js'),
    right: use('../base/units.js'),
  },
  {
    what: 'parsers do not import sources',
    file: 'src/parsers/proc/stat.ts',
    wrong: use('../../sources/procfs.js'),
    right: use('../../wire/snapshot.js'),
  },
  {
    what: 'parsers do not read files',
    file: 'src/parsers/proc/stat.ts',
    wrong: use('node:fs'),
    right: use('../../base/errors.js'),
  },
  {
    what: 'sources do not import analyses',
    file: 'src/sources/procfs.ts',
    wrong: use('../analyses/ledger.js'),
    right: use('../parsers/proc/auxv.js'),
  },
  {
    what: 'the trace source does not import analyses',
    file: 'src/sources/tracefs.ts',
    wrong: use('../analyses/trace/address-space.js'),
    right: use('../parsers/trace/trace-assembler.js'),
  },
  {
    what: 'analyses take only types from sources',
    file: 'src/analyses/dirty/meters.ts',
    wrong: use('../../sources/pagemap.js'),
    right: use('../../sources/pagemap.js', true),
  },
  {
    what: 'analyses do not import render',
    file: 'src/analyses/ledger.ts',
    wrong: use('../render/text.js'),
    right: use('../parsers/proc/meminfo.js'),
  },
  {
    what: 'analyses start no processes',
    file: 'src/analyses/ledger.ts',
    wrong: use('node:child_process'),
    right: use('../base/units.js'),
  },
  {
    what: 'render does not import the store',
    file: 'src/render/text.ts',
    wrong: use('../store/index.js'),
    right: use('../analyses/ledger.js'),
  },
  {
    what: 'render opens no sockets',
    file: 'src/render/text.ts',
    wrong: use('node:net'),
    right: use('../wire/dirty.js'),
  },
  {
    what: 'the store does not import the server',
    file: 'src/store/url.ts',
    wrong: use('../server/app.js'),
    right: use('../render/text.js'),
  },
  {
    what: 'the server does not import the CLI',
    file: 'src/server/ring.ts',
    wrong: use('../cli/main.js'),
    right: use('../store/index.js'),
  },
  { what: 'the CLI may import every layer', file: 'src/cli/main.ts', right: use('../server/runtime.js') },
  {
    what: 'web does not import the server',
    file: 'web/format.ts',
    wrong: use('../src/server/views.js'),
    right: use('../src/wire/messages.js'),
  },
  {
    what: 'web uses no Node modules',
    file: 'web/views/system.ts',
    wrong: use('node:fs'),
    right: use('../../src/wire/messages.js'),
  },
];

describe('each layer boundary is a lint error', () => {
  for (const b of BOUNDARIES) {
    test(b.what, async () => {
      const right = await refusals(b.file, b.right);
      assert.deepEqual(right, [], `allowed import refused in ${b.file}:\n${b.right}`);
      if (b.wrong === undefined) return;
      const wrong = await refusals(b.file, b.wrong);
      assert.equal(wrong.length, 1, `wrong import accepted in ${b.file}:\n${b.wrong}`);
    });
  }
});
