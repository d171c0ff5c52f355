// An emulated board: Debian's own arm64 or armhf kernel and static BusyBox, booted under qemu's
// software emulation (TCG, `-M virt`) with an initramfs that holds BusyBox, the capture script
// and an init, and nothing else. No Node, no libc, no modules on the board.
//
// The packages come from Debian's archive with `apt-get download` (the foreign architecture must
// be known to dpkg: `dpkg --add-architecture arm64 armhf`, as .ci/setup-system does) into a cache
// folder outside the repository's history (test-artifacts/board/ by default), and are extracted,
// never installed.
//
// The way back is the serial console (the PL011 UART of `-M virt`), for two reasons: Debian
// builds virtio-mmio, virtio-blk, virtio-console and 9p as modules (CONFIG_VIRTIO_MMIO=m in both
// configs), while the UART driver is built in (CONFIG_SERIAL_AMBA_PL011=y), so the console needs
// no module on the board at all; and it is what a real board without a network offers too. The
// archive crosses as gzip | base64 between marker lines (BusyBox applets used by the init only,
// not by the capture script), so the line discipline (\n → \r\n) cannot alter it.
//
// What the init does, in order (see INIT below):
//  1. starts the workload, a BusyBox sh that holds a known amount of data in a shell variable
//     (its heap: anonymous private memory) and then blocks on a FIFO;
//  2. reads /proc/meminfo ("before") and the workload's smaps_rollup;
//  3. runs the capture script with a shell function `cat` that copies what it reads of
//     /proc/meminfo and of the workload's smaps_rollup aside: the board's own report at the very
//     moment of the capture, sent back as plain text on the console, apart from the archive;
//  4. reads /proc/meminfo again ("after"): with "before", it brackets the capture;
//  5. runs the script a second time, unwrapped, under BusyBox `time -v`, its output counted by
//     `wc -c` and thrown away: the script's cost on the board (CPU time, peak RSS, bytes);
//  6. prints everything between markers and powers off.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export type BoardArch = 'arm64' | 'armhf';

export interface BoardSpec {
  arch: BoardArch;
  /** Debian's meta package; its first dependency is the versioned kernel image. */
  kernelMeta: string;
  qemu: string;
  machine: string[];
  console: string;
  /** Memory of the board. armhf gets more than its low memory can map, so that it has highmem. */
  memoryMiB: number;
}

export const BOARDS: Record<BoardArch, BoardSpec> = {
  arm64: {
    arch: 'arm64',
    kernelMeta: 'linux-image-arm64',
    qemu: 'qemu-system-aarch64',
    machine: ['-M', 'virt', '-cpu', 'cortex-a57'],
    console: 'ttyAMA0',
    memoryMiB: 512,
  },
  // Debian's armmp kernel: ARMv7, no LPAE, CONFIG_HIGHMEM=y with the 3G/1G split, so low memory
  // ends near 760 MiB (arch/arm/mm/mmu.c, vmalloc_min) and the rest of 1 GiB is high memory.
  armhf: {
    arch: 'armhf',
    kernelMeta: 'linux-image-armmp',
    qemu: 'qemu-system-arm',
    machine: ['-M', 'virt,highmem=off', '-cpu', 'cortex-a15'],
    console: 'ttyAMA0',
    memoryMiB: 1024,
  },
};

export interface BoardFiles {
  kernelVersion: string;
  kernelImage: string;
  busybox: string;
}

/** Why a board cannot be prepared here (a missing tool or package), or undefined if it can. */
export function boardUnavailable(spec: BoardSpec): string | undefined {
  for (const tool of [spec.qemu, 'apt-get', 'dpkg-deb', 'cpio']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (.ci/setup-system installs it)`;
    }
  }
  const foreign = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).split('\n');
  if (!foreign.includes(spec.arch))
    return `dpkg does not know the ${spec.arch} architecture (dpkg --add-architecture ${spec.arch}; apt-get update)`;
  return undefined;
}

function aptDownload(pkg: string, dir: string): string {
  const before = new Set(readdirSync(dir));
  try {
    execFileSync('apt-get', ['download', '-qq', pkg], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`apt-get download ${pkg} failed: ${err.stderr?.toString().trim() ?? String(e)}`);
  }
  const name = pkg.split(':')[0] ?? pkg;
  const deb = readdirSync(dir).find((f) => !before.has(f) && f.startsWith(`${name}_`) && f.endsWith('.deb'));
  if (deb === undefined) throw new Error(`apt-get download ${pkg} left no .deb in the cache`);
  return join(dir, deb);
}

function extract(deb: string, into: string, members: string[]): void {
  mkdirSync(into, { recursive: true });
  const tar = execFileSync('dpkg-deb', ['--fsys-tarfile', deb], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', into, '--wildcards', ...members], { input: tar, maxBuffer: 1 << 30 });
}

/**
 * The kernel image and BusyBox of one architecture, downloaded once into `cacheDir` and
 * extracted there. Throws with apt-get's message when a package cannot be fetched.
 */
export function prepareBoard(spec: BoardSpec, cacheDir: string): BoardFiles {
  const dir = join(cacheDir, spec.arch);
  mkdirSync(dir, { recursive: true });
  const kernelPkg = execFileSync('apt-cache', ['depends', '--no-recommends', `${spec.kernelMeta}:${spec.arch}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .map((l) => /^\s*Depends:\s*(linux-image-\S+)/.exec(l)?.[1])
    .find((p) => p !== undefined);
  if (kernelPkg === undefined) throw new Error(`apt-cache knows no kernel behind ${spec.kernelMeta}:${spec.arch}`);
  const bare = kernelPkg.split(':')[0] ?? kernelPkg;
  const kernelVersion = bare.slice('linux-image-'.length);
  const tree = join(dir, 'root');
  const kernelImage = join(tree, 'boot', `vmlinuz-${kernelVersion}`);
  const busybox = join(tree, 'bin', 'busybox');
  if (!existsSync(kernelImage)) {
    const deb = aptDownload(`${bare}:${spec.arch}`, dir);
    extract(deb, tree, ['./boot/*']);
    rmSync(deb);
  }
  if (!existsSync(busybox)) {
    const deb = aptDownload(`busybox-static:${spec.arch}`, dir);
    extract(deb, tree, ['./bin/busybox']);
    rmSync(deb);
  }
  return { kernelVersion, kernelImage, busybox };
}

/** Bytes of the workload's shell variable: 4 MiB of 'x' in the heap of a BusyBox sh. */
export const WORKLOAD_BYTES = 4 * 1024 * 1024;

const INIT = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
$B mount -t sysfs sys /sys
$B --install -s /bin
export PATH=/bin
mkdir -p /tmp /board
echo "BOARD-KERNEL $(uname -r) $(uname -m)"
mkfifo /board/hold
# The workload: ${WORKLOAD_BYTES} bytes in a shell variable, then it blocks (read is a builtin).
sh -c 'v=$(head -c ${WORKLOAD_BYTES} /dev/zero | tr "\\0" x); echo "\${#v}" > /board/ready; read x < /board/hold' &
W=$!
n=0
while [ ! -s /board/ready ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
echo "BOARD-WORKLOAD $W $(cat /board/ready)"
# A cat that copies aside what the capture script reads of /proc/meminfo and of the workload's
# smaps_rollup. A shell function: BusyBox sh runs its own applets before searching PATH, so a
# wrapper file would be bypassed.
cat > /board/tee-seen.sh <<'EOF'
cat() {
  if [ "$#" -eq 1 ] && [ "$1" = /proc/meminfo ]; then
    command cat "$1" | command tee /board/meminfo-seen
  elif [ "$#" -eq 1 ] && [ "$1" = "/proc/$W/smaps_rollup" ]; then
    command cat "$1" | command tee /board/rollup-seen
  else
    command cat "$@"
  fi
}
EOF
export W
cat /proc/meminfo > /board/meminfo-before
cat /proc/$W/smaps_rollup > /board/rollup
sh -c '. /board/tee-seen.sh; . /capture.sh' > /board/archive
echo "BOARD-CAPTURE-EXIT $?"
cat /proc/meminfo > /board/meminfo-after
# The cost: the same script, unwrapped, its output counted and dropped as a pipe to ssh would take it.
time -v -o /board/time sh /capture.sh | wc -c > /board/bytes2
for f in meminfo-before meminfo-seen meminfo-after rollup rollup-seen time bytes2; do
  echo "BOARD-BEGIN $f"; cat /board/$f; echo "BOARD-END $f"
done
echo "BOARD-BEGIN archive"; gzip -c /board/archive | base64; echo "BOARD-END archive"
echo hold > /board/hold
sync
poweroff -f
`;

export interface BoardRun {
  spec: BoardSpec;
  files: BoardFiles;
  console: string;
  /** The sections the init printed between BOARD-BEGIN and BOARD-END, by name. */
  sections: Map<string, string>;
  kernel: string;
  machine: string;
  workloadPid: number;
  workloadBytes: number;
  captureExit: number | undefined;
  archive: Buffer;
}

/** The initramfs (cpio newc): BusyBox, the capture script, the init. */
export function buildBoardInitramfs(files: BoardFiles, captureScript: string, workDir: string): string {
  const tree = join(workDir, 'tree');
  rmSync(tree, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(tree, d), { recursive: true });
  execFileSync('cp', [files.busybox, join(tree, 'bin', 'busybox')]);
  writeFileSync(join(tree, 'capture.sh'), captureScript);
  writeFileSync(join(tree, 'init'), INIT, { mode: 0o755 });
  const list = execFileSync('find', ['.'], { cwd: tree, encoding: 'utf8' });
  const image = join(workDir, 'initramfs.cpio');
  writeFileSync(
    image,
    execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: tree, input: list, maxBuffer: 1 << 28 }),
  );
  return image;
}

/** Splits the console into its marked sections. */
export function boardSections(console: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^BOARD-BEGIN (\S+)\n([\s\S]*?)^BOARD-END \1$/gm;
  for (let m = re.exec(console); m; m = re.exec(console)) out.set(m[1] ?? '', m[2] ?? '');
  return out;
}

/**
 * Boots the board and returns what it printed. `hangGuardMs` only stops a board that never
 * powers off (TCG boots take about a minute here); the error then says how far it got.
 */
export async function runBoard(
  spec: BoardSpec,
  files: BoardFiles,
  captureScript: string,
  workDir: string,
  hangGuardMs = 10 * 60_000,
  /** Appended to the kernel command line, e.g. ['cma=32M'] (test/pages/board-cma.live.test.ts). */
  kernelArgs: string[] = [],
): Promise<BoardRun> {
  mkdirSync(workDir, { recursive: true });
  const initramfs = buildBoardInitramfs(files, captureScript, workDir);
  const args = [
    ...spec.machine,
    '-smp',
    '1',
    '-m',
    String(spec.memoryMiB),
    '-nographic',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    files.kernelImage,
    '-initrd',
    initramfs,
    '-append',
    [`console=${spec.console} quiet loglevel=1 panic=-1`, ...kernelArgs].join(' '),
  ];
  const guardState = { timedOut: false };
  const text = await new Promise<string>((resolve, reject) => {
    const qemu = spawn(spec.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    qemu.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    qemu.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const guard = setTimeout(() => {
      guardState.timedOut = true;
      qemu.kill('SIGKILL');
    }, hangGuardMs);
    qemu.on('error', reject);
    qemu.on('close', () => {
      clearTimeout(guard);
      resolve(out);
    });
  });
  const console = text.replace(/\r\n/g, '\n');
  writeFileSync(join(workDir, 'console.txt'), console);
  const lastLines = console.split('\n').slice(-15).join('\n');
  if (guardState.timedOut)
    throw new Error(
      `the ${spec.arch} board did not power off within ${hangGuardMs / 1000} s (qemu killed); its console ended with:\n${lastLines}`,
    );
  const sections = boardSections(console);
  const archiveText = sections.get('archive');
  if (archiveText === undefined)
    throw new Error(`the ${spec.arch} board sent no archive; its console ended with:\n${lastLines}`);
  const kernelLine = /^BOARD-KERNEL (\S+) (\S+)$/m.exec(console);
  const workloadLine = /^BOARD-WORKLOAD (\d+) (\d+)$/m.exec(console);
  const exitLine = /^BOARD-CAPTURE-EXIT (\d+)$/m.exec(console);
  const archive = gunzipSync(Buffer.from(archiveText.replace(/\s+/g, ''), 'base64'));
  writeFileSync(join(workDir, 'board.snap'), archive);
  return {
    spec,
    files,
    console,
    sections,
    kernel: kernelLine?.[1] ?? '',
    machine: kernelLine?.[2] ?? '',
    workloadPid: Number(workloadLine?.[1] ?? NaN),
    workloadBytes: Number(workloadLine?.[2] ?? NaN),
    captureExit: exitLine?.[1] === undefined ? undefined : Number(exitLine[1]),
    archive,
  };
}

/** The cost of the second, unwrapped capture, from BusyBox `time -v` and `wc -c`. */
export interface CaptureCost {
  userSeconds: number;
  systemSeconds: number;
  wallSeconds: number;
  /** Largest RSS of the script's shell or any command it waited for (getrusage ru_maxrss). */
  maxRssKiB: number;
  archiveBytes: number;
}

export function captureCost(run: BoardRun): CaptureCost {
  const time = run.sections.get('time') ?? '';
  const field = (label: string): string => {
    const m = new RegExp(`${label}[^:]*:\\s*(\\S+)`).exec(time);
    if (!m?.[1]) throw new Error(`no "${label}" in time -v output:\n${time}`);
    return m[1];
  };
  // "Elapsed (wall clock) time (h:mm:ss or m:ss): 0m 1.23s" in BusyBox's spelling.
  const wall = /Elapsed[^\n]*:\s*(?:(\d+)h\s*)?(\d+)m\s*([\d.]+)s/.exec(time);
  return {
    userSeconds: Number(field('User time')),
    systemSeconds: Number(field('System time')),
    wallSeconds: wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN,
    maxRssKiB: Number(field('Maximum resident set size')),
    archiveBytes: Number((run.sections.get('bytes2') ?? '').trim()),
  };
}
