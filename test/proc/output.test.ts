import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryFlags } from '../../src/cli/memory-flags.js';
import { csvLine, sizeText } from '../../src/render/text.js';
import { printable } from '../../src/base/terminal-text.js';
import { UsageError } from '../../src/base/errors.js';

test('CSV quotes commas, quotes and line breaks (RFC 4180); null is an empty field', () => {
  assert.equal(csvLine([1, 'a,b', 'say "hi"', 'x) (y z\n\ufffd', null]), '1,"a,b","say ""hi""","x) (y z\n\ufffd",');
});

test('names are printed on one line: control characters escaped', () => {
  assert.equal(printable('x) (y z\n\ufffd'), 'x) (y z\\x0a\ufffd');
});

test('sizes: binary units, exact bytes with --bytes, n/a for unknown', () => {
  assert.equal(sizeText(1536, false), '1.50 KiB');
  assert.equal(sizeText(1536, true), '1536');
  assert.equal(sizeText(null, true), 'n/a');
});

test('flag validation', () => {
  assert.deepEqual(memoryFlags({ sort: 'rss', limit: 5, json: true }), { sort: 'rss', limit: 5, json: true });
  assert.throws(() => memoryFlags({ sort: 'vss' }), UsageError);
  assert.throws(() => memoryFlags({ json: true, csv: true }), UsageError);
});
