// Builds tracing/memlens.stp into a kernel module for a given kernel release, once: the module is
// kept under test-artifacts/stap-module/<release>-<key>/, where the key is a hash of everything
// that goes into it (the script, the runtime patch and the script that applies it, SystemTap's
// version, the kernel's build tree). A build takes minutes of CPU (SystemTap compiles the kernel's
// tracepoint headers and the module with kbuild); a later run with the same inputs reuses it.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../helpers/cli.js';
import { artifactsDir, repoRoot } from '../helpers/paths.js';

export const STAP_SCRIPT = join(repoRoot, 'tracing', 'memlens.stp');
const RUNTIME_SCRIPT = join(repoRoot, 'tracing', 'stap-runtime.sh');
const RUNTIME_PATCH = join(repoRoot, 'tracing', 'stap-runtime-task-work.patch');
export const MODULE_NAME = 'memlens_stap';

export interface StapModule {
  /** The .ko file. */
  path: string;
  /** True when this call built it, false when it came from the cache. */
  built: boolean;
  /** The commands that built it, for the test's diagnostics and the docs. */
  commands: string[];
}

/** SystemTap's version line (`stap -V` prints it on stderr). */
async function stapVersion(): Promise<string> {
  const r = await runProcess('stap', ['-V'], { boundMs: 60_000 });
  const line = (r.stderr + r.stdout).split('\n').find((l) => l.includes('translator'));
  if (line === undefined) throw new Error(`stap -V printed no version: ${r.stderr}`);
  return line.trim();
}

/** The module for `release`, from the cache or built now (bounded: the build may take 40 minutes on a busy two-core machine). */
export async function stapModuleFor(release: string): Promise<StapModule> {
  const buildTree = join('/lib/modules', release, 'build');
  if (!existsSync(join(buildTree, '.config')))
    throw new Error(`no kernel build tree for ${release} at ${buildTree}: install linux-headers-${release}`);
  const version = await stapVersion();
  const key = (files: string[], more: string[]): string => {
    const h = createHash('sha256');
    for (const f of files) h.update(readFileSync(f));
    for (const m of more) h.update(m);
    return h.digest('hex').slice(0, 16);
  };
  const cache = join(artifactsDir, 'stap-module');
  // The runtime copy keeps one path: SystemTap caches what it compiled to query the kernel's
  // tracepoints (minutes of CPU) under a key that includes the runtime's path.
  const runtime = join(cache, `runtime-${release}-${key([RUNTIME_SCRIPT, RUNTIME_PATCH], [version])}`);
  const dir = join(
    cache,
    `${release}-${key([STAP_SCRIPT, RUNTIME_SCRIPT, RUNTIME_PATCH, join(buildTree, '.config'), join(buildTree, 'Module.symvers')], [version, realpathSync(buildTree)])}`,
  );
  const ko = join(dir, `${MODULE_NAME}.ko`);
  const commands = [
    `sh tracing/stap-runtime.sh ${release} ${runtime}`,
    `nice -n 10 stap -g -R ${runtime} -r ${release} -p4 -m ${MODULE_NAME} tracing/memlens.stp`,
  ];
  if (existsSync(ko)) return { path: ko, built: false, commands };

  mkdirSync(cache, { recursive: true });
  // Each step works in a staging folder and renames it into place whole, so that a run killed
  // half way leaves nothing half made in the cache.
  const staging = mkdtempSync(join(cache, '.staging-'));
  try {
    let patched = '';
    if (!existsSync(runtime)) {
      const r = await runProcess('sh', [RUNTIME_SCRIPT, release, join(staging, 'runtime')], { boundMs: 5 * 60_000 });
      if (r.code !== 0) throw new Error(`${commands[0] ?? ''} failed (${r.code}): ${r.stderr}`);
      renameSync(join(staging, 'runtime'), runtime);
      patched = r.stderr;
    }
    const out = join(staging, 'module');
    mkdirSync(out);
    // stap -m writes NAME.ko into its working directory (and nothing else with -p4).
    const built = await runProcess(
      'sh',
      [
        '-c',
        'cd "$1" && shift && exec "$@"',
        'sh',
        out,
        'nice',
        '-n',
        '10',
        'stap',
        '-g',
        '-R',
        runtime,
        '-r',
        release,
        '-p4',
        '-m',
        MODULE_NAME,
        STAP_SCRIPT,
      ],
      { boundMs: 40 * 60_000 },
    );
    if (built.code !== 0 || !existsSync(join(out, `${MODULE_NAME}.ko`)))
      throw new Error(`${commands[1] ?? ''} failed (${built.code}):\n${built.stderr.slice(-6000)}`);
    writeFileSync(join(out, 'build.txt'), `${commands.join('\n')}\n${version}\n\n${patched}${built.stderr}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
    return { path: ko, built: true, commands };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
