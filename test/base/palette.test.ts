// One palette: the dashboard's theme variables (web/style.css) are the colours of
// src/base/palette.ts, which the HTML report uses, so no chart drifts to colours of its own.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PALETTE_DARK, PALETTE_LIGHT, textOn } from '../../src/base/palette.js';
import { repoRoot } from '../helpers/paths.js';

function themeColours(css: string, selector: string): string[] {
  // The formatter may quote the attribute either way; one character for another keeps offsets.
  const start = css.replaceAll("'", '"').indexOf(selector);
  assert.ok(start >= 0, `no ${selector} block in web/style.css`);
  const block = css.slice(start, css.indexOf('}', start));
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const m = new RegExp(`--c${i}:\\s*(#[0-9a-fA-F]{6})`).exec(block);
    if (m === null) break;
    out.push((m[1] ?? '').toUpperCase());
  }
  return out;
}

test('web/style.css declares the shared palette in both themes, in order', () => {
  const css = readFileSync(join(repoRoot, 'web', 'style.css'), 'utf8');
  assert.deepEqual(themeColours(css, '[data-theme="light"]'), [...PALETTE_LIGHT]);
  assert.deepEqual(themeColours(css, '[data-theme="dark"]'), [...PALETTE_DARK]);
});

test('text on a palette colour: black on the light ones, white on the dark blue', () => {
  assert.equal(textOn('#E69F00'), '#000000');
  assert.equal(textOn('#F0E442'), '#000000');
  assert.equal(textOn('#0072B2'), '#ffffff');
  assert.equal(textOn('not a colour'), '#000000');
});
