// The program the `memlens pages` virtual machine runs (vm-pages.live.test.ts): `memlens pages`
// as root on the guest kernel, once as JSON with a small block map and once as text, each result
// printed as `MEMLENS-VM-RESULT <name> <json>` on the serial console for the host test to judge.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { runCli } from '../helpers/cli.js';

function report(name: string, value: unknown): void {
  process.stdout.write(`MEMLENS-VM-RESULT ${name} ${JSON.stringify(value)}\n`);
}

report('release', release());
report('cmdline', readFileSync('/proc/cmdline', 'utf8').trim());
report('meminfo', readFileSync('/proc/meminfo', 'utf8'));
try {
  const json = await runCli(['pages', '--json', '--map-cells', '64']);
  report('json', {
    code: json.code,
    stderr: json.stderr,
    doc: json.stdout.trim() === '' ? null : (JSON.parse(json.stdout) as unknown),
  });
  const text = await runCli(['pages']);
  report('text', { code: text.code, stderr: text.stderr, stdout: text.stdout });
} catch (e) {
  report('error', e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}
report('done', true);
