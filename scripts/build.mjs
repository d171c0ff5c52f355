// Build: TypeScript for Node (src, test, bench) with tsc, then with esbuild the CLI's start and
// the dashboard bundle. Runs as `prepare`, so `npm install` in a fresh clone leaves a working
// `npx memlens`.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

// --incremental: tsc keeps what it learnt in dist/*.tsbuildinfo and checks again only what changed
// since (a clean clone, or a removed dist/, builds everything).
execFileSync(
  bin('tsc'),
  ['-p', join(root, 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', join(root, 'dist', 'node.tsbuildinfo')],
  { stdio: 'inherit', cwd: root },
);

// The CLI: tsc's output is one ES module per source file, and Node resolves, reads, compiles and
// links each one on every run (about 40 for `memlens snapshot`), which was most of the start-up
// beyond Node's own. esbuild replaces five of tsc's files with bundles of the same exports:
// cli/main.js (the command, which answers --version itself and otherwise loads program.js; its
// CommonJS build main.cjs, below, is the installed command),
// cli/program.js (commander and the commands' definitions, each run only for the command that
// runs: commands/index.ts imports them lazily, and they are inlined in this bundle), and
// cli/run-snapshot.js, cli/run-process.js and cli/run-events.js (the three short-lived reading
// commands, with their parsers, sources and analyses; events with the store and Kysely, whose ES
// build is some 470 modules). Everything else stays tsc's output, loaded by path when its
// command runs:
// - every other dynamic import: serve, trace, capture, dirty and memtrace run long or find files
//   relative to their own module (the dashboard, worker scripts, tracing/);
// - src/base/errors.ts, so that an error class is one class whichever file throws it (main's
//   `instanceof UserError` must hold for an error thrown by a module that is not bundled);
// - the npm packages but commander and Kysely (better-sqlite3 and mysql2 cannot be bundled; the
//   others are loaded only by the modules left outside). commander is bundled: loading it from
//   node_modules means seven CommonJS files behind an ES module wrapper, each resolved, read and
//   compiled.
//   main.ts therefore tells commander's errors by their code, as commander itself does, not by
//   their class: a module left outside would throw node_modules' copy.
// Both sides are built from the same sources in the same run, so they cannot disagree.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { build } = await import('esbuild');
const srcCli = join(root, 'src', 'cli');
const bundled = ['main', 'program', 'run-snapshot', 'run-process', 'run-events'].map((n) => join(srcCli, `${n}.ts`));
/** The table of commands, whose lazy imports of the commands' definitions stay inside program.js. */
const commandTable = join(srcCli, 'commands', 'index.ts');
const oneInstance = new Set([join(root, 'src', 'base', 'errors.ts')]);
/** Leaves an import of a source file that is not to be bundled as an import of tsc's output. */
const keepTscOutput = {
  name: 'keep-tsc-output',
  setup(b) {
    // commander has no side effects on load; said so, a bundle that imports it for nothing (the
    // commands' bundles, through memory-flags.ts) leaves it out.
    b.onResolve({ filter: /^commander$/ }, async (args) => {
      if (args.pluginData === 'inner') return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: 'inner',
      });
      return r.errors.length > 0 ? { errors: r.errors } : { path: r.path, sideEffects: false };
    });
    // commander requires node:child_process on load, for stand-alone executable subcommands
    // (its spawn), which memlens has none of; loading that module (and net, dgram and streams
    // behind it) was a tenth of `memlens --version`. commander gets it on first use instead.
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_target, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind === 'entry-point' || args.importer === commandTable) return undefined;
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
  external: Object.keys(pkg.dependencies).filter((name) => name !== 'commander' && name !== 'kysely'),
  // commander is CommonJS and requires Node's own modules, and an ES module has no `require`:
  // process.getBuiltinModule (Node 20.16) gives them without loading node:module.
  banner: { js: 'const require = (id) => process.getBuiltinModule(id);' },
  plugins: [keepTscOutput],
  // package.json is the one place the version is written.
  define: { MEMLENS_VERSION: JSON.stringify(pkg.version) },
  sourcemap: 'linked',
  logLevel: 'warning',
});
// The command as installed (package.json's bin) is main.cjs: the same main.ts as CommonJS. An ES
// module entry makes Node set up its ES module loader before the first line runs, about 8 ms on
// the machines of bench/README.md, which is most of what `memlens --version` cost beyond Node's
// own start (issue 13 §1: within 10 ms of `node -e 0`). Every other command imports program.js,
// an ES module, and pays the loader then, as it did. main.js, the ES module build, stays for
// `node dist/src/cli/main.js` (the tests, the benchmarks, the docs).
await build({
  entryPoints: [join(srcCli, 'main.ts')],
  outfile: join(root, 'dist', 'src', 'cli', 'main.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [keepTscOutput],
  define: { MEMLENS_VERSION: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
// The store's worker thread (store/writer-worker.js, started by every `memlens trace` and `serve`
// that stores calls) as one bundle with Kysely inside. Kysely's ES build is some 470 modules: a
// new thread that imported them through Node's loader spent about 110 ms and 18 MiB of resident
// memory on that before it stored a call. Only the worker is bundled: nothing crosses from it to
// the main thread but messages (writer-protocol.ts), so a class it holds a copy of is never
// compared with the main thread's. better-sqlite3 (a native addon) and mysql2 (loaded only for a
// MySQL URL) stay outside.
await build({
  entryPoints: [join(root, 'src', 'store', 'writer-worker.ts')],
  outdir: join(root, 'dist', 'src', 'store'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'mysql2'],
  banner: { js: 'const require = (id) => process.getBuiltinModule(id);' },
  sourcemap: 'linked',
  logLevel: 'warning',
});
if (existsSync(join(root, 'web', 'main.ts'))) {
  execFileSync(
    bin('tsc'),
    [
      '-p',
      join(root, 'web', 'tsconfig.json'),
      '--incremental',
      '--tsBuildInfoFile',
      join(root, 'dist', 'web.tsbuildinfo'),
    ],
    { stdio: 'inherit', cwd: root },
  );
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
    if (f.endsWith('.html') || f.endsWith('.css') || f.endsWith('.svg'))
      cpSync(join(root, 'web', f), join(root, 'dist', 'web', f));
  }
  // The dashboard's files also compressed, once, here: the server sends app.js.br or app.js.gz to a
  // browser that accepts them (@fastify/static's preCompressed) and spends no CPU on it per load.
  // The minified script is about 800 KB (250 KB as brotli, 276 KB as gzip); a dashboard opened over
  // a board's slow link or an SSH tunnel waits for every byte of it before the first view.
  const webOut = join(root, 'dist', 'web');
  for (const f of readdirSync(webOut)) {
    if (!/\.(js|css|html|svg)$/.test(f)) continue;
    const body = readFileSync(join(webOut, f));
    writeFileSync(
      join(webOut, `${f}.br`),
      brotliCompressSync(body, {
        params: {
          // Quality 9: 252 KB in 0.2 s of CPU; 11 saves 8 % more for 1.5 s on every build.
          [zlibConstants.BROTLI_PARAM_QUALITY]: 9,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      }),
    );
    writeFileSync(join(webOut, `${f}.gz`), gzipSync(body, { level: 9 }));
  }
}
for (const entry of ['main.js', 'main.cjs']) chmodSync(join(root, 'dist', 'src', 'cli', entry), 0o755);
