// Build: TypeScript for Node (src, test, bench) with tsc, then the dashboard bundle with esbuild.
// Runs as `prepare`, so `npm install` in a fresh clone leaves a working `npx memlens`.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

// --incremental: tsc keeps what it learnt in dist/*.tsbuildinfo and checks again only what changed
// since (a clean clone, or a removed dist/, builds everything).
execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', join(root, 'dist', 'node.tsbuildinfo')], { stdio: 'inherit', cwd: root });
if (existsSync(join(root, 'web', 'main.ts'))) {
  execFileSync(bin('tsc'), ['-p', join(root, 'web', 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', join(root, 'dist', 'web.tsbuildinfo')], { stdio: 'inherit', cwd: root });
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
