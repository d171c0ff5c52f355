// Lint is part of `npm test`: any warning fails the build (--max-warnings 0).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'ocaml/_build/**', 'bench/results/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true, allowRegExp: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['src/parsers/**/*.ts'],
    rules: {
      // Parsers are pure: text or bytes in, typed values out. Only src/sources touches the system.
      'no-restricted-imports': ['error', { patterns: ['node:fs', 'node:fs/*', 'fs', 'node:child_process', 'node:net', '../sources/*', '../../sources/*', '../analyses/*', '../../analyses/*', '../store/*', '../../store/*', '../server/*', '../../server/*', '../cli/*', '../../cli/*'] }],
    },
  },
  {
    files: ['src/sources/**/*.ts'],
    rules: {
      // Sources read the system and hand typed records up; what is made of them lives above.
      'no-restricted-imports': ['error', { patterns: ['../analyses/*', '../../analyses/*', '../store/*', '../../store/*', '../server/*', '../../server/*', '../cli/*', '../../cli/*'] }],
    },
  },
  {
    files: ['web/**/*.ts'],
    languageOptions: {
      // The browser code has its own tsconfig (DOM lib, bundler resolution), not the Node one.
      parserOptions: { projectService: false, project: ['web/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.browser },
    },
    rules: {
      // The dashboard talks only to the typed API: no Node modules, no server code.
      'no-restricted-imports': ['error', { patterns: ['node:*', '../src/server/*', '../src/store/*', '../src/sources/*'] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
