// `memlens trace -- COMMAND`: the command is started before tracing and held at a gate until
// tracing has begun, so that its very first calls (the dynamic loader's mmaps after exec) are
// seen, and its pid is known before it runs, so that the trace can select it.
//
// Why a gate shell with a subshell: a tracer leaves out memlens and its descendants (the kernel
// filter of the bpftrace script drops memlens's direct children; the tracefs backend seeds its
// exclusion from memlens's descendants at start). The command therefore runs in a subshell of the
// gate, two generations down, and is selected by pid with its forks followed; the gate shell
// itself, memlens's direct child, stays left out and only waits for the command.
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { UserError, errnoCode } from '../base/errors.js';

/** How the command ended: an exit code, or the signal that killed it (as the gate saw it). */
export interface CommandEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TracedCommand {
  /** The pid the command runs under (the subshell that execs it). */
  readonly pid: number;
  /** Lets the command run; call once tracing has started. */
  release(): void;
  /** Resolves when the command has ended. */
  readonly ended: Promise<CommandEnd>;
}

/**
 * The gate (POSIX sh): the subshell waits for a line on fd 3, then execs the command; its pid goes
 * to memlens on fd 4. If memlens goes away before the release (fd 3 closes), the command does not
 * run. The gate exits with the command's status (wait: 128 + the signal number if it was killed).
 */
const GATE = '( read -r _ <&3 || exit 125; exec 3<&- 4>&-; exec "$@" ) & echo $! >&4; exec 4>&- 3<&-; wait $!';

/** Starts `argv` held at the gate and resolves with its pid. Throws UserError if sh cannot run. */
export async function startGatedCommand(argv: readonly string[]): Promise<TracedCommand> {
  if (argv.length === 0) throw new UserError('no command to run');
  const child = spawn('/bin/sh', ['-c', GATE, 'memlens-gate', ...argv], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'],
  });
  const gate = child.stdio[3] as Writable;
  const pidOut = child.stdio[4] as Readable;
  // A release after the gate has gone (the command could not even start) is not an error here:
  // `ended` says what happened.
  gate.on('error', () => undefined);
  const ended = new Promise<CommandEnd>((resolve, reject) => {
    child.once('error', (e) =>
      reject(new UserError(`cannot run /bin/sh for the command: ${errnoCode(e) ?? e.message}`)),
    );
    child.once('exit', (code, signal) => {
      // The gate reports a killed command as 128 + its number, as sh's wait does.
      resolve({ code: signal === null ? code : null, signal });
    });
  });
  const pid = await new Promise<number>((resolve, reject) => {
    let text = '';
    pidOut.setEncoding('utf8');
    pidOut.on('data', (d: string) => {
      text += d;
      const m = /^(\d+)\n/.exec(text);
      if (m) resolve(Number(m[1]));
      // More than a pid and a newline: not the gate speaking.
      else if (text.length > 16) reject(new UserError('the command gate printed something other than a pid'));
    });
    pidOut.once('end', () => reject(new UserError('the command could not be started (its gate shell ended first)')));
    ended.catch(reject);
  });
  pidOut.destroy();
  // Until the release, the gate does not keep memlens running: if tracing cannot start (not root,
  // no bpftrace) memlens reports it and exits, fd 3 closes with it, and the command never runs, as
  // the gate intends. A gate holding the event loop would leave memlens waiting for a command that
  // waits for memlens. (Pipes given to a child are net.Sockets, which can be unref'd.)
  const gateSocket = gate instanceof Socket ? gate : undefined;
  child.unref();
  gateSocket?.unref();
  return {
    pid,
    release: () => {
      child.ref();
      gateSocket?.ref();
      gate.end('go\n');
    },
    ended,
  };
}
