// `serve --token-file FILE`: the access token read from a file instead of the command line, which
// every local user can read in /proc/PID/cmdline. A systemd unit hands one over with
// LoadCredential= (the file then lies in $CREDENTIALS_DIRECTORY, readable by the service alone).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../base/errors.js';

/** A token is a line; a file larger than this is not a token file (and is not read whole). */
export const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * The token a token file's text holds: its one line, without the final line break (LF or CRLF)
 * that editors and `echo` add. Whitespace or a control character inside is refused rather than
 * kept: a stray space or a second line is a mistake that would otherwise surface only as every
 * request being refused (an HTTP client cannot send a line break in a header).
 */
export function tokenFromText(text: string, path: string): string {
  const token = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  if (token.length === 0) throw new UserError(`--token-file ${path}: the file is empty`);
  const bad = /[\s\p{Cc}]/u.exec(token);
  if (bad !== null)
    throw new UserError(
      `--token-file ${path}: the token holds ${bad[0] === '\n' ? 'a second line' : `a space or control character (U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')})`} at character ${bad.index + 1}; a token file holds one line with nothing else`,
    );
  return token;
}

/** Reads a token file: a regular file of at most MAX_TOKEN_FILE_BYTES, opened without blocking (a FIFO must not stall the start; libuv opens with O_CLOEXEC). */
export function readTokenFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UserError(`--token-file ${path}: cannot open it (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UserError(`--token-file ${path}: not a regular file`);
    const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_TOKEN_FILE_BYTES)
        throw new UserError(`--token-file ${path}: larger than ${MAX_TOKEN_FILE_BYTES} bytes, which no token is`);
    }
    return tokenFromText(buf.subarray(0, n).toString('utf8'), path);
  } finally {
    closeSync(fd);
  }
}
