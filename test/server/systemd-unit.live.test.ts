// deploy/systemd/memlens.service: `systemd-analyze verify` accepts it with nothing to say, and
// memlens serve run with exactly its privileges (uid 0, its capability bounding set, nothing
// inherited: setpriv does what systemd would) traces, reads the PSS of processes of other users and
// of fully privileged root processes, and on SIGTERM exits 0 and leaves no tracing instance behind.
// Run with no capability at all, the same reads fail: the one capability the unit keeps is needed.
// The sandboxing directives (ProtectSystem=, ReadWritePaths=, …) need systemd as PID 1 to be tried:
// systemd-analyze checks their syntax only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../helpers/cli.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { Teardown } from '../helpers/teardown.js';
import { waitingFor } from '../helpers/waiting.js';
import type { ProcessesBody } from '../../src/wire/messages.js';
import { freePort } from '../web/live-serve.js';

const unitPath = join(repoRoot, 'deploy', 'systemd', 'memlens.service');
const unit = readFileSync(unitPath, 'utf8');
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
const SETPRIV = '/usr/bin/setpriv';
const canRunAsUnit = process.getuid?.() === 0 && existsSync(SETPRIV) && existsSync('/sys/kernel/tracing/instances');

/** The value of `key=` in the unit (the last one, as systemd takes it). */
function directive(key: string): string | undefined {
  const all = [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))];
  return all.at(-1)?.[1]?.trim();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(
  'systemd-analyze verify accepts the unit with nothing to say',
  { skip: SYSTEMD_ANALYZE === undefined ? 'systemd-analyze is not installed' : false },
  async () => {
    // verify checks that ExecStart's program exists: a copy names this checkout's built command
    // instead of where npm install -g puts it.
    const dir = mkdtempSync(join(tmpdir(), 'memlens-unit-'));
    try {
      const execStart = directive('ExecStart') ?? '';
      assert.match(execStart, /^\/usr\/local\/bin\/memlens serve /);
      const copy = join(dir, 'memlens.service');
      writeFileSync(copy, unit.replace('/usr/local/bin/memlens', cliPath));
      const r = await runProcess(SYSTEMD_ANALYZE ?? '', ['verify', copy]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      // Unknown or misspelt directives are only warned about, with exit 0.
      assert.equal((r.stdout + r.stderr).trim(), '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

interface Served {
  child: ChildProcess;
  url: string;
  stderr(): string;
}

/** memlens serve as uid 0 with only `caps` (setpriv's names, e.g. ["sys_ptrace"]) in every set. */
async function serveWithCaps(caps: string[], dir: string): Promise<Served> {
  const port = await freePort();
  const bounding = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  const child = spawn(
    SETPRIV,
    [
      `--bounding-set=${bounding}`,
      '--inh-caps=-all',
      '--',
      process.execPath,
      cliPath,
      'serve',
      '--port',
      String(port),
      '--db',
      join(dir, 'events.db'),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', XDG_DATA_HOME: dir },
    },
  );
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await waitingFor(
    `memlens serve with capabilities [${caps.join(', ')}] to print its URL`,
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
  return { child, url, stderr: () => err };
}

function stopServe(s: Served, signal: NodeJS.Signals): Promise<number | null> {
  return waitingFor(
    `memlens serve (pid ${s.child.pid}) to exit after ${signal}`,
    () =>
      new Promise((resolve) => {
        if (s.child.exitCode !== null) resolve(s.child.exitCode);
        else {
          s.child.once('exit', (code) => resolve(code));
          s.child.kill(signal);
        }
      }),
  );
}

/** The effective capability mask of a process, from /proc/PID/status. */
function capEff(pid: number): bigint {
  const m = /^CapEff:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return BigInt(`0x${m?.[1] ?? 'x'}`);
}

describe(
  "memlens serve with the unit's privileges",
  { skip: canRunAsUnit ? false : 'needs root, setpriv (util-linux) and tracefs' },
  () => {
    const teardown = new Teardown();
    let dir: string;
    let nobodyPid: number;
    // CapabilityBoundingSet=CAP_A CAP_B → setpriv's a, b.
    const unitCaps = (directive('CapabilityBoundingSet') ?? '')
      .split(/\s+/)
      .filter((c) => c !== '')
      .map((c) => c.replace(/^CAP_/, '').toLowerCase());

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'memlens-unit-privileges-'));
      teardown.add(() => rmSync(dir, { recursive: true, force: true }));
      assert.equal(directive('User'), 'root');
      assert.deepEqual(unitCaps, ['sys_ptrace']);
      // A process of another user: its smaps_rollup opens only with CAP_SYS_PTRACE.
      const nobody = spawn(SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'sleep', '600'], {
        stdio: 'ignore',
      });
      nobodyPid = nobody.pid ?? 0;
      teardown.add(() => {
        nobody.kill('SIGKILL');
      });
    });

    after(() => teardown.run());

    /** Waits until the server's process table lists every pid and `ok` holds for their PSS (null: unreadable). */
    async function pssOf(
      s: Served,
      pids: number[],
      what: string,
      ok: (pss: (number | null)[]) => boolean,
    ): Promise<(number | null)[]> {
      return waitingFor(`memlens serve at ${s.url} to list pids ${pids.join(', ')} with ${what}`, async (signal) => {
        for (;;) {
          const body = (await (await fetch(`${s.url}api/v1/processes`, { signal })).json()) as ProcessesBody;
          const rows = pids.map((pid) => body.rows.find((r) => r.pid === pid));
          // Each sample reads every process's PSS: a listed row carries the outcome of that read.
          if (rows.every((r) => r !== undefined)) {
            const pss = rows.map((r) => r.pssBytes);
            if (ok(pss)) return pss;
          }
          await sleep(300);
        }
      });
    }

    async function untilTracing(s: Served): Promise<void> {
      await waitingFor(`memlens serve at ${s.url} to report memlens_tracing_up 1`, async (signal) => {
        for (;;) {
          const text = await (await fetch(new URL('/metrics', s.url), { signal })).text();
          if (/^memlens_tracing_up 1$/m.test(text)) return;
          if (s.child.exitCode !== null) throw new Error(`serve exited: ${s.stderr()}`);
          await sleep(300);
        }
      });
    }

    test('with CAP_SYS_PTRACE alone it traces, reads every PSS, and exits 0 on SIGTERM leaving no instance', async () => {
      const s = await serveWithCaps(unitCaps, dir);
      let stopped = false;
      try {
        // The serve's own capabilities are the unit's: CAP_SYS_PTRACE is bit 19 (linux/capability.h).
        assert.equal(capEff(s.child.pid ?? 0), 1n << 19n);
        await untilTracing(s);
        // This test's own process is root's with every capability; the other is nobody's.
        await pssOf(s, [process.pid, nobodyPid], 'a PSS for both', (pss) => pss.every((p) => p !== null && p > 0));
        const pid = s.child.pid ?? 0;
        assert.ok(
          readdirSync('/sys/kernel/tracing/instances').some((n) => n.includes(String(pid))),
          'no tracing instance named after the server',
        );
        assert.equal(await stopServe(s, 'SIGTERM'), 0, s.stderr());
        stopped = true;
        assert.deepEqual(
          readdirSync('/sys/kernel/tracing/instances').filter((n) => n.includes(String(pid))),
          [],
        );
      } finally {
        if (!stopped) await stopServe(s, 'SIGKILL');
      }
    });

    test('with no capability it still traces (tracefs is root-owned) but cannot read the PSS of those processes', async () => {
      const s = await serveWithCaps([], dir);
      try {
        assert.equal(capEff(s.child.pid ?? 0), 0n);
        await untilTracing(s);
        // The root process has capabilities the server lacks (security/commoncap.c,
        // cap_ptrace_access_check); nobody's is another user's (kernel/ptrace.c, __ptrace_may_access).
        assert.deepEqual(await pssOf(s, [process.pid, nobodyPid], 'any PSS', () => true), [null, null]);
      } finally {
        assert.equal(await stopServe(s, 'SIGTERM'), 0, s.stderr());
      }
    });
  },
);
