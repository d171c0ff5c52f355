// The CLI's one parser of whole numbers, pids and durations: the same bounds and the same words
// for every command, and durations that would overflow a Node timer refused before anything runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import {
  durationMs,
  durationValue,
  integerValue,
  MAX_TIMER_MS,
  PID_MAX_LIMIT,
  pidValue,
} from '../../src/cli/flag-values.js';
import { openStore } from '../../src/store/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { waitingFor } from '../helpers/waiting.js';

const scratch = mkdtempSync(join(tmpdir(), 'memlens-flags-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
// No test may touch the user's default store.
const env = { XDG_DATA_HOME: scratch, HOME: scratch };

/** One line on stderr in the one wording, and the usage exit code. */
function assertUsage(
  r: CliResult,
  args: string[],
  pattern: RegExp = /is invalid( for argument '\w+')?: expected /,
): void {
  assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, /^memlens: /, args.join(' '));
  assert.match(r.stderr, pattern, args.join(' '));
  assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
}

test('values: whole numbers, pids and durations within their bounds, anything else refused', () => {
  assert.equal(integerValue('0', { min: 0, max: 10 }), 0);
  assert.equal(integerValue('10', { min: 0, max: 10 }), 10);
  for (const bad of ['11', '-1', '1.5', '1e3', ' 5', '0x10', '', '99999999999999999999'])
    assert.throws(() => integerValue(bad, { min: 0, max: 10 }), InvalidArgumentError, bad);
  assert.equal(pidValue('1'), 1);
  assert.equal(pidValue(String(PID_MAX_LIMIT)), 4_194_304);
  for (const bad of ['0', '4194305', '99999999999', 'abc', '-3'])
    assert.throws(() => pidValue(bad), InvalidArgumentError, bad);
  assert.equal(durationMs('10s'), 10_000);
  assert.equal(durationMs('250ms'), 250);
  assert.equal(durationMs('1.5m'), 90_000);
  assert.equal(durationMs('3'), 3000, 'a bare number is seconds');
  assert.equal(durationMs('ten'), undefined);
  assert.equal(durationValue('24d', MAX_TIMER_MS), 24 * 86_400_000);
  assert.ok(MAX_TIMER_MS <= 2 ** 31 - 1, 'a timer of MAX_TIMER_MS does not overflow');
  assert.throws(() => durationValue('25d', MAX_TIMER_MS), /at most 24d/);
  assert.throws(() => durationValue('0s'), InvalidArgumentError);
  assert.equal(durationValue('365d'), 365 * 86_400_000, 'durations that are no timer may be long');
});

test('trace --duration 25d is refused (a Node timer would fire after 1 ms), 24d is accepted', async () => {
  // Events from a stap file on a stdin that stays open: only the duration could end the run.
  const long = ['trace', '--from-stap', '-', '--no-store', '--duration', '25d'];
  assertUsage(
    await runCliInProcess(long, { env, stdinOpen: true }),
    long,
    /--duration.*'25d' is invalid: .*at most 24d/,
  );
  const ok = await runCliInProcess(['trace', '--from-stap', '-', '--no-store', '--duration', '24d'], {
    env,
    input: '#memlens-stap 1\n',
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stderr, /TimeoutOverflowWarning/);
});

// dirty and serve run as the built command here; the other tests run memlens in this process.
test('dirty --watch --interval 25d is refused before any round', async () => {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  try {
    const pid = child.pid;
    assert.ok(pid !== undefined);
    const args = ['dirty', String(pid), '--watch', '--interval', '25d', '--max-rounds', '2', '--fallback', 'accessed'];
    const r = await runCli(args, { env });
    assertUsage(r, args, /--interval.*'25d' is invalid: .*at most 24d/);
    assert.equal(r.stdout, '');
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine: a server that got that far fails.
    const serve = [
      'serve',
      '--host',
      '192.0.2.1',
      '--token',
      't',
      '--no-trace',
      '--dirty-watch',
      String(pid),
      '--dirty-fallback',
      'accessed',
      '--dirty-interval',
      '25d',
    ];
    assertUsage(await runCli(serve, { env }), serve, /--dirty-interval.*at most 24d/);
  } finally {
    const ended =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill();
    await waitingFor('the sleep process to end after SIGTERM', () => ended);
  }
});

test('every integer, pid and duration flag refuses bad values in the same words, exit 2', async () => {
  const db = join(scratch, 'events.sqlite');
  for (const args of [
    ['snapshot', '--limit', 'x'],
    ['snapshot', '--limit', '-1'],
    ['process', 'abc'],
    ['process', '0'],
    ['trace', '--duration', 'soon'],
    ['trace', '--pid', 'abc'],
    ['trace', '--max-rows', 'many'],
    ['trace', '--max-age', 'forever'],
    ['events', '--db', db, '--limit', '0'],
    ['events', '--db', db, '--limit', '10001'],
    ['events', '--db', db, '--before', '1.5'],
    ['events', '--db', db, '--pid', 'x'],
    ['events', '--db', db, '--since', 'yesterday'],
    ['events', '--db', db, '--prune', '--max-rows', '0'],
    ['events', '--db', db, '--prune', '--max-age', 'soon'],
    ['serve', '--port', '65536'],
    ['serve', '--dirty-watch', 'abc'],
    ['serve', '--dirty-watch', '123', '--dirty-max-rounds', '0'],
    ['serve', '--dirty-watch', '123', '--dirty-interval', 'soon'],
    ['dirty', 'abc'],
    ['dirty', '123', '--watch', '--max-rounds', '0'],
    ['dirty', '123', '--watch', '--interval', '0ms'],
    ['memtrace', 'x.ctf', '--top', '0'],
  ]) {
    assertUsage(await runCliInProcess(args, { env }), args);
  }
});

test('pids: 1 to 4194304 (PID_MAX_LIMIT), larger numbers refused by every command', async () => {
  const beyond = String(PID_MAX_LIMIT + 1);
  for (const args of [
    ['trace', '--from-stap', '-', '--no-store', '--duration', '2s', '--pid', '99999999999'],
    ['trace', '--from-stap', '-', '--no-store', '--duration', '2s', '--pid', `1,${beyond}`],
    ['process', beyond],
    ['dirty', beyond],
    ['events', '--db', join(scratch, 'pids.sqlite'), '--pid', beyond],
    ['serve', '--dirty-watch', beyond],
  ]) {
    assertUsage(
      await runCliInProcess(args, { env, stdinOpen: true }),
      args,
      /is invalid( for argument 'pid')?: expected a process id, a whole number from 1 to 4194304/,
    );
  }
  // The largest pid is a pid: no such process (exit 1), not a usage error.
  const gone = await runCliInProcess(['process', String(PID_MAX_LIMIT)], { env });
  assert.equal(gone.code, 1, gone.stderr);
  assert.match(gone.stderr, /no process 4194304/);
});

test('limits at their bounds are accepted; a retention age beyond any timer is fine', async () => {
  const db = join(scratch, 'bounds.sqlite');
  // events only reads: the store must exist.
  await (await openStore(db)).close();
  const list = await runCliInProcess(
    ['events', '--db', db, '--limit', '10000', '--pid', String(PID_MAX_LIMIT), '--since', '400d'],
    { env },
  );
  assert.equal(list.code, 0, list.stderr);
  const prune = await runCliInProcess(['events', '--db', db, '--prune', '--max-age', '30d', '--max-rows', '1'], {
    env,
  });
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stdout, /^pruned 0 events/);
});

test('--db "" is refused instead of meaning the default store', async () => {
  for (const args of [
    ['events', '--db', ''],
    ['trace', '--from-stap', '-', '--duration', '2s', '--db', ''],
    ['serve', '--host', '192.0.2.1', '--token', 't', '--no-trace', '--db', ''],
  ]) {
    assertUsage(await runCliInProcess(args, { env, stdinOpen: true }), args, /--db.*is invalid: expected a value/);
  }
});
