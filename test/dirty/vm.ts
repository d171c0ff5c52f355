// Boots a kernel that tracks soft-dirty pages (Debian's linux-image-amd64 is built with
// CONFIG_MEM_SOFT_DIRTY=y) under qemu's software emulation, with the machine's own root file
// system shared read-only over virtio-9p, and runs one node program inside it. Everything is
// found at run time: the kernel under /boot, its modules, busybox, node and this checkout.
//
// The initramfs holds only busybox and the 9p modules; its init mounts the shared root, puts
// fresh proc, sysfs, devtmpfs and a tmpfs /tmp on top, chroots into it and runs the program.
// The program's output comes back over the serial console.
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The modules the init loads, in dependency order. */
export const NINEP_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_legacy_dev',
  'virtio_pci_modern_dev',
  'virtio_pci',
  'netfs',
  'fscache',
  '9pnet',
  '9pnet_virtio',
  '9p',
];

export interface GuestKernel {
  version: string;
  image: string;
  modulesDir: string;
}

/** The newest kernel under /boot whose config has CONFIG_MEM_SOFT_DIRTY=y and whose modules are installed. */
export function findSoftDirtyKernel(): GuestKernel | undefined {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort()
    .reverse();
  for (const version of versions) {
    const config = `/boot/config-${version}`;
    const modulesDir = `/lib/modules/${version}`;
    if (!existsSync(config) || !existsSync(modulesDir)) continue;
    if (!/^CONFIG_MEM_SOFT_DIRTY=y$/m.test(readFileSync(config, 'utf8'))) continue;
    return { version, image: `/boot/vmlinuz-${version}`, modulesDir };
  }
  return undefined;
}

function findModule(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findModule(p, name);
      if (found) return found;
    } else if (entry.name === `${name}.ko` || entry.name.startsWith(`${name}.ko.`)) {
      return p;
    }
  }
  return undefined;
}

/** Copies a module into the initramfs, decompressing .ko.xz, .ko.zst and .ko.gz (busybox insmod reads plain ELF only). */
function copyModule(source: string, target: string): void {
  if (source.endsWith('.ko')) copyFileSync(source, target);
  else if (source.endsWith('.xz')) writeFileSync(target, execFileSync('xz', ['-dc', source], { maxBuffer: 1 << 28 }));
  else if (source.endsWith('.zst'))
    writeFileSync(target, execFileSync('zstd', ['-dc', source], { maxBuffer: 1 << 28 }));
  else if (source.endsWith('.gz')) writeFileSync(target, execFileSync('gzip', ['-dc', source], { maxBuffer: 1 << 28 }));
  else throw new Error(`unknown module compression: ${source}`);
}

function findBusybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox not found: install busybox-static (.ci/setup-system does)');
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Builds the initramfs (cpio, newc) in a fresh directory; returns its path. `visible` lists host
 * directories the program needs (the checkout, node's own): those under /tmp would be hidden by
 * the guest's fresh tmpfs, so the init binds them back on top of it.
 */
export function buildInitramfs(
  kernel: GuestKernel,
  command: readonly string[],
  workDir: string,
  visible: readonly string[] = [],
): string {
  const tree = join(workDir, 'tree');
  for (const d of ['bin', 'modules', 'proc', 'sys', 'dev', 'newroot']) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync(findBusybox(), join(tree, 'bin', 'busybox'));
  for (const m of NINEP_MODULES) {
    const source = findModule(kernel.modulesDir, m);
    // Built into the kernel instead of a module: nothing to load.
    if (source) copyModule(source, join(tree, 'modules', `${m}.ko`));
  }
  const underTmp = [...new Set(visible.filter((p) => p === '/tmp' || p.startsWith('/tmp/')))];
  const keep = underTmp
    .map((p, i) => `$B mkdir -p /keep/${i} && $B mount -o bind ${shellQuote(`/newroot${p}`)} /keep/${i}`)
    .join('\n  ');
  const restore = underTmp
    .map(
      (p, i) =>
        `$B mkdir -p ${shellQuote(`/newroot${p}`)} && $B mount -o bind /keep/${i} ${shellQuote(`/newroot${p}`)}`,
    )
    .join('\n  ');
  const init = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
# No network card, but the loopback interface: a server in the guest and its clients talk over it.
$B ip link set lo up || echo "MEMLENS-VM-ERROR lo"
for m in ${NINEP_MODULES.join(' ')}; do
  [ -e /modules/$m.ko ] && { $B insmod /modules/$m.ko || echo "MEMLENS-VM-ERROR insmod $m"; }
done
if $B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 root /newroot; then
  $B mount -t proc proc /newroot/proc
  $B mount -t sysfs sys /newroot/sys
  $B mount -t devtmpfs dev /newroot/dev
  ${keep}
  $B mount -t tmpfs tmp /newroot/tmp
  ${restore}
  echo "MEMLENS-VM-KERNEL $($B uname -r)"
  $B chroot /newroot /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp NO_COLOR=1 ${command.map(shellQuote).join(' ')}
  echo "MEMLENS-VM-EXIT $?"
else
  echo "MEMLENS-VM-ERROR mount 9p"
fi
$B sync
$B poweroff -f
`;
  writeFileSync(join(tree, 'init'), init, { mode: 0o755 });
  const files = execFileSync('find', ['.'], { cwd: tree, encoding: 'utf8' });
  const image = join(workDir, 'initramfs.cpio');
  writeFileSync(
    image,
    execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: tree, input: files, maxBuffer: 1 << 28 }),
  );
  return image;
}

export interface VmRun {
  kernel: GuestKernel;
  /** Everything the serial console showed. */
  console: string;
  /** Exit status of the program inside, undefined when it never finished. */
  exitStatus: number | undefined;
}

/**
 * Boots the kernel with the program as the workload and returns the console output once the
 * machine powers off. No network, no KVM (software emulation), 1 GiB of memory.
 */
export async function runInVm(
  kernel: GuestKernel,
  command: readonly string[],
  opts: { memoryMiB?: number; hangGuardMs?: number; visible?: readonly string[]; kernelArgs?: readonly string[] } = {},
): Promise<VmRun> {
  const workDir = mkdtempSync(join(tmpdir(), 'memlens-vm-'));
  try {
    const initramfs = buildInitramfs(kernel, command, workDir, opts.visible);
    const args = [
      '-machine',
      'q35,accel=tcg',
      '-cpu',
      'max',
      '-smp',
      '1',
      '-m',
      String(opts.memoryMiB ?? 1024),
      '-nographic',
      '-no-reboot',
      '-nic',
      'none',
      '-kernel',
      kernel.image,
      '-initrd',
      initramfs,
      '-append',
      ['console=ttyS0 quiet loglevel=1 panic=-1', ...(opts.kernelArgs ?? [])].join(' '),
      '-fsdev',
      'local,id=r,path=/,readonly=on,security_model=none,multidevs=remap',
      '-device',
      'virtio-9p-pci,fsdev=r,mount_tag=root',
    ];
    const output = await new Promise<string>((resolve, reject) => {
      const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      qemu.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
      qemu.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
      // Not a timing assertion: only a guard so that a guest that never powers off cannot hang the suite.
      const guard = setTimeout(() => qemu.kill('SIGKILL'), opts.hangGuardMs ?? 30 * 60_000);
      qemu.on('error', reject);
      qemu.on('close', () => {
        clearTimeout(guard);
        resolve(text);
      });
    });
    const m = /MEMLENS-VM-EXIT (\d+)/.exec(output);
    return {
      kernel,
      console: output.replace(/\r\n/g, '\n'),
      exitStatus: m?.[1] === undefined ? undefined : Number(m[1]),
    };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Lines the program printed as `MEMLENS-VM-RESULT <name> <json>`, by name. */
export function vmResults(run: VmRun): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const line of run.console.split('\n')) {
    const m = /^MEMLENS-VM-RESULT (\S+) (.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], JSON.parse(m[2]) as unknown);
  }
  return out;
}
