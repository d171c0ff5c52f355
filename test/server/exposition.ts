// A small parser of the Prometheus text exposition format (0.0.4) that fails on anything the
// format forbids: used by the /metrics tests.
import assert from 'node:assert/strict';

export interface Family {
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Parses the text format and fails on anything the format forbids. */
export function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the last line must end with a newline');
  const families = new Map<string, Family>();
  let current: string | null = null;
  const closed = new Set<string>();
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_][a-zA-Z0-9_]*) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = ''] = meta;
      if (current !== name) {
        if (current !== null) closed.add(current);
        assert.ok(!closed.has(name), `family ${name} is split`);
        current = name;
      }
      if (kind === 'TYPE') {
        assert.ok(!families.has(name), `two TYPE lines for ${name}`);
        families.set(name, { type: meta[3] ?? '', samples: [] });
      }
      continue;
    }
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `not a sample line: ${line}`);
    const name = m[1] ?? '';
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const family = families.get(name) ?? families.get(base);
    assert.ok(family !== undefined, `sample before its TYPE: ${line}`);
    assert.ok(current === name || current === base, `sample outside its family group: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[3] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf('=');
      labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1);
    }
    const key = `${name}${m[2] ?? ''}`;
    assert.ok(!seen.has(key), `duplicate series ${key}`);
    seen.add(key);
    const value = Number(m[4]);
    assert.ok(!Number.isNaN(value) || m[4] === 'NaN', `bad value in ${line}`);
    family.samples.push({ name, labels, value });
  }
  return families;
}
