// Build: TypeScript for Node (src, test, bench) with tsc, then with esbuild the CLI's start and
// the dashboard bundle. Runs as `prepare`, so `npm install` in a fresh clone leaves a working
// `npx memlens`.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });

// The CLI: tsc's output is one ES module per source file, and Node resolves, reads, compiles and
// links each one on every run (about 40 for `memlens snapshot`), which was most of the start-up
// beyond Node's own. esbuild replaces three of tsc's files with bundles of the same exports:
// cli/main.js (the commands' definitions, which every run loads), and cli/run-snapshot.js and
// cli/run-process.js (the two short-lived reading commands, with their parsers, sources and
// analyses). Everything else stays tsc's output, loaded by path when its command runs:
// - every dynamic import other than those two: serve, trace, capture, dirty, memtrace and events
//   run long or find files relative to their own module (the dashboard, worker scripts, tracing/);
// - src/base/errors.ts, so that an error class is one class whichever file throws it (main's
//   `instanceof UserError` must hold for an error thrown by a module that is not bundled);
// - the npm packages (commander stays one copy for the same reason; better-sqlite3 and mysql2
//   cannot be bundled).
// Both sides are built from the same sources in the same run, so they cannot disagree.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { build } = await import('esbuild');
const srcCli = join(root, 'src', 'cli');
const bundled = ['main', 'run-snapshot', 'run-process'].map((n) => join(srcCli, `${n}.ts`));
const oneInstance = new Set([join(root, 'src', 'base', 'errors.ts')]);
/** Leaves an import of a source file that is not to be bundled as an import of tsc's output. */
const keepTscOutput = {
  name: 'keep-tsc-output',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      const isEntry = bundled.includes(target);
      if (!oneInstance.has(target) && !(args.kind === 'dynamic-import' || isEntry)) return undefined;
      // The bundles land where tsc put the files they replace, so a path relative to src/cli is
      // the same path relative to dist/src/cli.
      const out = relative(srcCli, target).replace(/\.ts$/, '.js');
      return { path: out.startsWith('.') ? out : `./${out}`, external: true };
    });
  },
};
await build({
  entryPoints: bundled,
  outdir: join(root, 'dist', 'src', 'cli'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  plugins: [keepTscOutput],
  // package.json is the one place the version is written.
  define: { MEMLENS_VERSION: JSON.stringify(pkg.version) },
  sourcemap: 'linked',
  logLevel: 'warning',
});
if (existsSync(join(root, 'web', 'main.ts'))) {
  execFileSync(bin('tsc'), ['-p', join(root, 'web', 'tsconfig.json')], { stdio: 'inherit', cwd: root });
  const { build } = await import('esbuild');
  mkdirSync(join(root, 'dist', 'web'), { recursive: true });
  await build({
    entryPoints: [join(root, 'web', 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: join(root, 'dist', 'web', 'app.js'),
    logLevel: 'warning',
  });
  for (const f of readdirSync(join(root, 'web'))) {
    if (f.endsWith('.html') || f.endsWith('.css') || f.endsWith('.svg')) cpSync(join(root, 'web', f), join(root, 'dist', 'web', f));
  }
}
chmodSync(join(root, 'dist', 'src', 'cli', 'main.js'), 0o755);
