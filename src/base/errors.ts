// Typed errors for the boundaries: they carry context, and the CLI turns them into one line
// and an exit code. Bad records inside otherwise good data are skipped and counted instead.

/** Exit codes of the memlens command (documented in the README). */
export const ExitCode = {
  ok: 0,
  /** A runtime failure: permission, unreachable database, corrupt input. */
  failure: 1,
  /** A usage error: unknown flag, bad value. */
  usage: 2,
} as const;

/** Input that claims to be of a format but is broken: carries where. */
export class ParseError extends Error {
  override name = 'ParseError';
  constructor(
    message: string,
    readonly source: string,
    readonly line?: number,
  ) {
    super(line === undefined ? `${source}: ${message}` : `${source}:${line}: ${message}`);
  }
}

/** A failure the user can act on (permission, missing kernel feature, unreachable service). */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
  }
}

/** Wrong command-line usage: exit code 2. */
export class UsageError extends UserError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** The process went away (or became a zombie without an address space) while being read. */
export class ProcessGoneError extends Error {
  override name = 'ProcessGoneError';
  constructor(readonly pid: number | 'self') {
    super(`process ${pid} has exited`);
  }
}

/** Errno codes that mean "the process went away while we read it": normal on a live system. */
const VANISHED = new Set(['ENOENT', 'ESRCH']);

export function errnoCode(e: unknown): string | undefined {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

export function isVanished(e: unknown): boolean {
  const code = errnoCode(e);
  return code !== undefined && VANISHED.has(code);
}

export function isPermission(e: unknown): boolean {
  const code = errnoCode(e);
  return code === 'EACCES' || code === 'EPERM';
}
