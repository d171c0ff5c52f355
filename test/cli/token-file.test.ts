// `serve --token-file`: the token read from a file, checked before the server starts. The file's
// text and the file itself are hostile: a second line, a stray space, a FIFO, a huge file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UserError } from '../../src/base/errors.js';
import { MAX_TOKEN_FILE_BYTES, readTokenFile, tokenFromText } from '../../src/cli/token-file.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';

const scratch = mkdtempSync(join(tmpdir(), 'memlens-token-file-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const env = { XDG_DATA_HOME: scratch, HOME: scratch };

function file(name: string, body: string | Buffer): string {
  const path = join(scratch, name);
  writeFileSync(path, body, { mode: 0o600 });
  return path;
}

/** The one-line error of a refused token file, or a failure when it was accepted. */
function refusal(read: () => string): string {
  try {
    const token = read();
    assert.fail(`accepted as ${JSON.stringify(token)}`);
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    assert.equal(e.exitCode, 1);
    assert.ok(!e.message.includes('\n'), e.message);
    return e.message;
  }
}

test('the line without its final line break, LF or CRLF; nothing else taken off', () => {
  assert.equal(tokenFromText('s3cret', 'f'), 's3cret');
  assert.equal(tokenFromText('s3cret\n', 'f'), 's3cret');
  assert.equal(tokenFromText('s3cret\r\n', 'f'), 's3cret');
  assert.equal(tokenFromText('a+b/c=d~é', 'f'), 'a+b/c=d~é');
  assert.equal(readTokenFile(file('ok', 'tok-from-file\n')), 'tok-from-file');
});

test('empty, a second line, a space or a control character is refused with where it is', () => {
  const cases: [string, RegExp][] = [
    ['', /^--token-file f: the file is empty$/],
    ['\n', /the file is empty/],
    ['one\ntwo\n', /a second line at character 4/],
    ['tok \n', /U\+0020\) at character 4/],
    ['\ttok', /U\+0009\) at character 1/],
    ['t\u0000k', /U\+0000\) at character 2/],
    ['t\r\n\n', /U\+000D\) at character 2/],
  ];
  for (const [text, want] of cases)
    assert.match(
      refusal(() => tokenFromText(text, 'f')),
      want,
      JSON.stringify(text),
    );
});

test('a file that is not a token file is refused without reading it whole or waiting on it', () => {
  assert.match(
    refusal(() => readTokenFile(join(scratch, 'nope'))),
    /cannot open it \(ENOENT/,
  );
  const dir = join(scratch, 'dir');
  mkdirSync(dir);
  assert.match(
    refusal(() => readTokenFile(dir)),
    /not a regular file$/,
  );
  // A FIFO with no writer: a blocking open would wait forever.
  const fifo = join(scratch, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.match(
    refusal(() => readTokenFile(fifo)),
    /not a regular file$/,
  );
  const big = file('big', Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1, 'a'));
  assert.match(
    refusal(() => readTokenFile(big)),
    /larger than 4096 bytes/,
  );
  assert.equal(readTokenFile(file('max', Buffer.alloc(MAX_TOKEN_FILE_BYTES, 'a'))).length, MAX_TOKEN_FILE_BYTES);
});

test('serve: --token with --token-file is a usage error; a bad token file ends the start with one line, exit 1', async () => {
  const both = await runCliInProcess(['serve', '--no-trace', '--token', 't', '--token-file', file('t', 't\n')], {
    env,
  });
  assert.equal(both.code, 2, both.stderr);
  assert.equal(both.stderr, 'memlens: --token and --token-file cannot be used together\n');
  const empty = await runCliInProcess(['serve', '--no-trace', '--token-file', file('empty', '')], { env });
  assert.equal(empty.code, 1, empty.stderr);
  assert.equal(empty.stderr, `memlens: --token-file ${join(scratch, 'empty')}: the file is empty\n`);
  assert.equal(empty.stdout, '');
});
