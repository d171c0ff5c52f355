// Lint is part of `npm test`: any warning fails the build (--max-warnings 0).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// The layers of src, lowest first (docs/architecture.md): a file may import its own layer and
// those to its left, never one to its right. One rule entry per folder, since a later entry for
// the same rule replaces an earlier one instead of adding to it.
const LAYERS = ['base', 'wire', 'parsers', 'sources', 'analyses', 'render', 'store', 'server', 'cli'];
// Pure layers: text, bytes or values in, values out; only src/sources touches the system.
const PURE = new Set(['base', 'wire', 'parsers', 'analyses', 'render']);
const SYSTEM_MODULES = ['fs', 'fs/promises', 'child_process', 'net'].flatMap((m) => [m, `node:${m}`]);

function layerPatterns(
  layer,
  { typesFromSources = layer === 'analyses', above = LAYERS.slice(LAYERS.indexOf(layer) + 1) } = {},
) {
  const may = LAYERS.slice(0, LAYERS.indexOf(layer)).join(', ') || 'nothing else';
  const patterns = [];
  const higher = above.filter((l) => !(typesFromSources && l === 'sources'));
  if (higher.length > 0) {
    patterns.push({
      regex: `^(\\.\\./)+(${higher.join('|')})/`,
      message: `src/${layer} may import only ${may} (docs/architecture.md).`,
    });
  }
  if (typesFromSources) {
    patterns.push({
      regex: '^(\\.\\./)+sources/',
      allowTypeImports: true,
      message: `src/${layer} may take sources' types only (import type): the caller hands it what reads.`,
    });
  }
  return patterns;
}

function layerRule(layer, options = {}) {
  const config = { patterns: layerPatterns(layer, options) };
  if (PURE.has(layer))
    config.paths = SYSTEM_MODULES.map((name) => ({
      name,
      message: `src/${layer} is pure: only src/sources touches files, processes and sockets.`,
    }));
  return ['error', config];
}

function layerRules() {
  return LAYERS.map((layer) => ({
    files: [`src/${layer}/**/*.ts`],
    rules: { '@typescript-eslint/no-restricted-imports': layerRule(layer) },
  }));
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'ocaml/_build/**', 'bench/results/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowRegExp: false },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': 'off',
    },
  },
  ...layerRules(),
  {
    files: ['web/**/*.ts'],
    languageOptions: {
      // The browser code has its own tsconfig (DOM lib, bundler resolution), not the Node one.
      parserOptions: { projectService: false, project: ['web/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.browser },
    },
    rules: {
      // The dashboard talks only to the typed API: src/wire (and the pure helpers of src/base it
      // shares with the HTML report: units, axis, palette); no Node modules, no code of the program.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'web runs in the browser: no Node modules.' },
            {
              regex: '^(\\.\\./)+src/(parsers|sources|analyses|render|store|server|cli)/',
              message: 'web may import only src/wire and src/base; it reaches the rest through the HTTP API.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
