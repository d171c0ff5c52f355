// A real Prometheus (Debian's package) scraping a live `memlens serve` run as root, with the
// recording and alerting rules of deploy/prometheus/ loaded, while a C workload of known memory runs
// (resident-workload.c). Checked with PromQL over Prometheus's HTTP API: the workload's program has
// its memory, the ledger's parts sum to MemTotal, the tracer's counters rise by the calls the
// workload makes, the rules evaluate without error, and every query of the Grafana dashboard parses
// and finds series. promtool checks the exposition, the rules (and their unit tests) and the example
// configuration.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { Teardown } from '../helpers/teardown.js';
import { waitingFor } from '../helpers/waiting.js';
import { freePort, startServe } from '../web/live-serve.js';
import type { LiveServe } from '../web/live-serve.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const deployDir = join(repoRoot, 'deploy', 'prometheus');
const canRun = process.getuid?.() === 0 && existsSync(PROMETHEUS) && existsSync(PROMTOOL);

const MIB = 2 ** 20;
const WORKLOAD_NAME = 'mlpromwork';
const WORKLOAD_MIB = 256;
const CALLS = 500;

interface Sample {
  metric: Record<string, string>;
  value: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The workload, driven line by line over its stdin. */
class ResidentWorkload {
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly child: ChildProcess) {
    let buf = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async line(what: string): Promise<string> {
    return waitingFor(`the resident workload (pid ${this.child.pid}) to print ${what}`, async () => {
      for (;;) {
        const l = this.lines.shift();
        if (l !== undefined) return l;
        if (this.child.exitCode !== null) throw new Error(`the workload exited with ${this.child.exitCode}`);
        await new Promise<void>((r) => {
          this.waiters.push(r);
          setTimeout(r, 500);
        });
      }
    });
  }

  async calls(n: number): Promise<void> {
    this.child.stdin?.write(`calls ${n}\n`);
    assert.equal(await this.line(`"done ${n}"`), `done ${n}`);
  }

  stop(): Promise<void> {
    return waitingFor(
      `the resident workload (pid ${this.child.pid}) to exit`,
      () =>
        new Promise<void>((resolve) => {
          if (this.child.exitCode !== null) resolve();
          else {
            this.child.once('exit', () => resolve());
            this.child.stdin?.end();
          }
        }),
    );
  }
}

describe(
  'Prometheus scraping a live memlens serve',
  { skip: canRun ? false : `needs root (tracing), ${PROMETHEUS} and ${PROMTOOL} (Debian's prometheus package)` },
  () => {
    const teardown = new Teardown();
    let work: string;
    let serve: LiveServe;
    let workload: ResidentWorkload;
    let promUrl: string;
    let target: string;

    async function query(expr: string): Promise<Sample[]> {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: unknown };
      };
      assert.equal(body.status, 'success', `Prometheus refused ${expr}: ${body.error ?? res.status}`);
      const data = body.data;
      assert.ok(data !== undefined);
      if (data.resultType === 'scalar') return [{ metric: {}, value: Number((data.result as [number, string])[1]) }];
      assert.equal(data.resultType, 'vector', expr);
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
        metric: r.metric,
        value: Number(r.value[1]),
      }));
    }

    /** Polls `expr` until `ok` holds for its result; the wait names the query. */
    function until(what: string, expr: string, ok: (s: Sample[]) => boolean): Promise<Sample[]> {
      return waitingFor(`Prometheus to answer ${expr} with ${what}`, async (signal) => {
        for (;;) {
          const s = await query(expr);
          if (ok(s)) return s;
          if (signal.aborted) throw signal.reason;
          await sleep(500);
        }
      });
    }

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'memlens-prometheus-test-'));
      teardown.add(() => rmSync(work, { recursive: true, force: true }));

      serve = await startServe();
      teardown.add(async () => {
        const code = await serve.stop();
        assert.equal(code, 0, serve.stderr());
      });
      target = new URL(serve.url).host;
      // The workload starts once the tracer runs, so that every mapping it makes is seen.
      await waitingFor(`memlens serve at ${serve.url} to report memlens_tracing_up 1`, async (signal) => {
        for (;;) {
          const text = await (await fetch(new URL('/metrics', serve.url), { signal })).text();
          if (/^memlens_tracing_up 1$/m.test(text)) return;
          await sleep(200);
        }
      });

      const bin = join(work, 'resident-workload');
      execFileSync('gcc', ['-O1', '-o', bin, join(repoRoot, 'test', 'server', 'resident-workload.c')]);
      workload = new ResidentWorkload(
        spawn(bin, [WORKLOAD_NAME, String(WORKLOAD_MIB)], { stdio: ['pipe', 'pipe', 'inherit'] }),
      );
      teardown.add(() => workload.stop());
      assert.equal(await workload.line('"ready"'), 'ready');

      // Prometheus with its own data directory and port, scraping memlens every second and evaluating
      // the shipped rules every second.
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      const config = join(work, 'prometheus.yml');
      writeFileSync(
        config,
        [
          'global:',
          '  scrape_interval: 1s',
          '  scrape_timeout: 1s',
          '  evaluation_interval: 1s',
          'rule_files:',
          `  - ${JSON.stringify(join(deployDir, 'memlens-rules.yml'))}`,
          'scrape_configs:',
          '  - job_name: memlens',
          '    static_configs:',
          `      - targets: [${JSON.stringify(target)}]`,
          '',
        ].join('\n'),
      );
      const prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(work, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
          `--web.console.templates=${work}`,
          `--web.console.libraries=${work}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let promErr = '';
      prometheus.stderr.setEncoding('utf8').on('data', (d: string) => (promErr += d.slice(0, 100_000)));
      teardown.add(() =>
        waitingFor(
          `Prometheus (pid ${prometheus.pid}) to exit after SIGTERM`,
          () =>
            new Promise<void>((resolve) => {
              if (prometheus.exitCode !== null) resolve();
              else {
                prometheus.once('exit', () => resolve());
                prometheus.kill('SIGTERM');
              }
            }),
        ),
      );
      await waitingFor(`Prometheus at ${promUrl} to be ready`, async (signal) => {
        for (;;) {
          if (prometheus.exitCode !== null)
            throw new Error(`prometheus exited with ${prometheus.exitCode}: ${promErr}`);
          try {
            if ((await fetch(`${promUrl}/-/ready`, { signal })).status === 200) return;
          } catch {
            // Not listening yet.
          }
          await sleep(200);
        }
      });
      // Two scrapes at least: rates and slopes need two samples.
      await until(
        'two scrapes of memlens',
        `count_over_time(memlens_mem_total_bytes{job="memlens"}[1m])`,
        (s) => (s[0]?.value ?? 0) >= 2,
      );
    });

    after(() => teardown.run());

    test('promtool check metrics passes on the exposition', async () => {
      const text = await (await fetch(new URL('/metrics', serve.url))).text();
      const r = await runProcess(PROMTOOL, ['check', 'metrics'], { input: text });
      // Nothing to report, and exit 0: memlens drops prom-client's gauges named *_total (metrics.ts).
      assert.equal((r.stdout + r.stderr).trim(), '', 'promtool check metrics reported problems');
      assert.equal(r.code, 0);
    });

    test('the rules pass promtool check rules and their unit tests, and the example configuration checks', async () => {
      const check = await runProcess(PROMTOOL, ['check', 'rules', join(deployDir, 'memlens-rules.yml')]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const unit = await runProcess(PROMTOOL, ['test', 'rules', join(deployDir, 'memlens-rules.test.yml')]);
      assert.equal(unit.code, 0, unit.stdout + unit.stderr);
      assert.match(unit.stdout, /SUCCESS/);
      // The example names a token file under /etc/prometheus: a copy points at one of the test's own,
      // so that the full check (which opens the files and the rule files it names) can run.
      const dir = mkdtempSync(join(work, 'config-'));
      const tokenFile = join(dir, 'memlens.token');
      writeFileSync(tokenFile, 'example-token\n');
      copyFileSync(join(deployDir, 'memlens-rules.yml'), join(dir, 'memlens-rules.yml'));
      const example = readFileSync(join(deployDir, 'prometheus.yml'), 'utf8');
      assert.ok(example.includes('/etc/prometheus/memlens.token'));
      writeFileSync(join(dir, 'prometheus.yml'), example.replace('/etc/prometheus/memlens.token', tokenFile));
      const config = await runProcess(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')]);
      assert.equal(config.code, 0, config.stdout + config.stderr);
      assert.match(config.stdout, /SUCCESS: 8 rules found/);
    });

    test("the workload's program shows its resident and requested memory", async () => {
      const expected = WORKLOAD_MIB * MIB;
      // Resident: every page of the mapping was written, plus the program's own text, libc and stack
      // (a few MiB at most).
      const resident = await until(
        `a resident memory of ${WORKLOAD_MIB} MiB and up to 16 MiB more`,
        `memlens_program_memory_bytes{job="memlens", program="${WORKLOAD_NAME}", memtype="resident"}`,
        (s) => s.length === 1 && (s[0]?.value ?? 0) >= expected,
      );
      assert.ok((resident[0]?.value ?? 0) < expected + 16 * MIB, `resident ${resident[0]?.value}`);
      // Requested: the mapping, and the dynamic loader's mappings of the program and libc.
      const requested = await until(
        `a requested memory of at least ${WORKLOAD_MIB} MiB`,
        `memlens_program_memory_bytes{job="memlens", program="${WORKLOAD_NAME}", memtype="requested"}`,
        (s) => s.length === 1 && (s[0]?.value ?? 0) >= expected,
      );
      assert.ok((requested[0]?.value ?? 0) < expected + 64 * MIB, `requested ${requested[0]?.value}`);
      const processes = await query(`memlens_program_processes{job="memlens", program="${WORKLOAD_NAME}"}`);
      assert.equal(processes[0]?.value, 1);
    });

    test("the ledger's parts sum to MemTotal", async () => {
      // Both come from the same scrape, so PromQL's own arithmetic must give exactly 0.
      const diff = await query(
        'sum by (instance) (memlens_memory_bytes{job="memlens"}) - on (instance) memlens_mem_total_bytes{job="memlens"}',
      );
      assert.equal(diff.length, 1);
      assert.equal(diff[0]?.value, 0);
      const total = await query('memlens_mem_total_bytes{job="memlens"}');
      const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
      assert.equal(total[0]?.value, memTotalKiB * 1024);
      const parts = await query('count(memlens_memory_bytes{job="memlens"})');
      assert.ok((parts[0]?.value ?? 0) >= 5, `only ${parts[0]?.value} ledger parts`);
    });

    test("the tracer's counters rise by the workload's calls", async () => {
      const counter = (call: string): string => `memlens_traced_calls_total{job="memlens", call="${call}"}`;
      // Read after a scrape that follows the last change of the workload: the counts before its calls.
      const lostBefore = (await query('memlens_trace_lost_events_total{job="memlens"}'))[0]?.value ?? 0;
      const before = {
        mmap: (await query(counter('mmap')))[0]?.value ?? 0,
        munmap: (await query(counter('munmap')))[0]?.value ?? 0,
      };
      await workload.calls(CALLS);
      for (const call of ['mmap', 'munmap'] as const) {
        // Other processes make such calls too: the rise is at least the workload's.
        await waitingFor(
          `Prometheus to show ${counter(call)} risen by at least ${CALLS} from ${before[call]}`,
          async (signal) => {
            for (;;) {
              const now = (await query(counter(call)))[0]?.value ?? 0;
              if (now >= before[call] + CALLS) return;
              const lost =
                ((await query('memlens_trace_lost_events_total{job="memlens"}'))[0]?.value ?? 0) - lostBefore;
              assert.equal(
                lost,
                0,
                `the kernel dropped ${lost} events while the workload made its calls: the count cannot be checked`,
              );
              if (signal.aborted) throw signal.reason;
              await sleep(500);
            }
          },
        );
      }
      // The recording rule over the same counter sees the calls.
      await until(
        'a positive rate of traced mmap calls',
        'instance_call:memlens_traced_calls:rate5m{job="memlens", call="mmap"}',
        (s) => (s[0]?.value ?? 0) > 0,
      );
      // One page mapped and unmapped, CALLS times: the program's requested memory is as before.
      const requested = await query(
        `memlens_program_memory_bytes{job="memlens", program="${WORKLOAD_NAME}", memtype="requested"}`,
      );
      assert.ok((requested[0]?.value ?? 0) < WORKLOAD_MIB * MIB + 64 * MIB);
    });

    test('the rules evaluate in Prometheus without error and the recording rules have series', async () => {
      const body = await waitingFor('every rule of memlens-rules.yml to have been evaluated', async (signal) => {
        for (;;) {
          const res = (await (await fetch(`${promUrl}/api/v1/rules`, { signal })).json()) as {
            data: {
              groups: { name: string; rules: { name: string; health: string; lastError?: string; type: string }[] }[];
            };
          };
          const rules = res.data.groups.flatMap((g) => g.rules);
          if (rules.length > 0 && rules.every((r) => r.health !== 'unknown')) return rules;
          await sleep(500);
        }
      });
      assert.equal(body.length, 8);
      for (const r of body) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
      const used = await until(
        'one used-memory sample',
        'instance:memlens_memory_used_bytes:sum{job="memlens"}',
        (s) => s.length === 1,
      );
      const total = (await query('memlens_mem_total_bytes{job="memlens"}'))[0]?.value ?? 0;
      assert.ok((used[0]?.value ?? 0) > 0 && (used[0]?.value ?? 0) < total);
      await until(
        `a growth slope for ${WORKLOAD_NAME}`,
        `program:memlens_program_resident_bytes:deriv10m{program="${WORKLOAD_NAME}"}`,
        (s) => s.length === 1,
      );
    });

    test('every query of the Grafana dashboard parses and finds series', async () => {
      interface Target {
        expr?: string;
      }
      interface Panel {
        title?: string;
        type: string;
        targets?: Target[];
        panels?: Panel[];
      }
      interface Variable {
        name: string;
        type: string;
        query?: string | { query?: string };
      }
      const dashboard = JSON.parse(readFileSync(join(deployDir, 'grafana-dashboard.json'), 'utf8')) as {
        panels: Panel[];
        templating: { list: Variable[] };
      };
      // Grafana's variables, as they would be set for this Prometheus: the instance scraped here and
      // every program; $__rate_interval is at least four scrape intervals.
      const substitute = (expr: string): string =>
        expr.replaceAll('$instance', target).replaceAll('$program', '.*').replaceAll('$__rate_interval', '30s');
      const queries: { where: string; expr: string }[] = [];
      const walk = (panels: Panel[]): void => {
        for (const p of panels) {
          for (const t of p.targets ?? [])
            if (t.expr !== undefined) queries.push({ where: `panel "${p.title ?? p.type}"`, expr: t.expr });
          walk(p.panels ?? []);
        }
      };
      walk(dashboard.panels);
      assert.ok(queries.length >= 15, `${queries.length} queries`);
      for (const v of dashboard.templating.list) {
        if (v.type !== 'query') continue;
        const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
        // label_values(SELECTOR, LABEL) is Grafana's; the selector is PromQL.
        const m = /^label_values\((.*), *(\w+)\)$/.exec(q);
        assert.ok(m !== null, `variable ${v.name}: ${q}`);
        queries.push({ where: `variable ${v.name}`, expr: `group by (${m[2] ?? ''}) (${m[1] ?? ''})` });
      }
      const empty: string[] = [];
      for (const { where, expr } of queries) {
        const s = await query(substitute(expr));
        if (s.length === 0) empty.push(`${where}: ${expr}`);
      }
      assert.deepEqual(empty, [], 'queries that found no series');
    });
  },
);
