// The terminal report of `memlens memtrace`.
import { printable } from '../base/terminal-text.js';
import { formatBytes } from '../base/units.js';
import {
  PROMISES_BELOW_NOTE,
  type MemtraceWireReport,
  type MemtraceWireSite,
  type MemtraceWireSplit,
} from '../wire/memtrace.js';
import { sparkline } from './sparkline.js';
import { table, type Palette } from './text.js';

/** Characters of a curve at most: one per bin up to this, then the bins grouped. */
const SPARK_WIDTH = 60;

/** The colours the report uses. */
type TextStyle = Pick<Palette, 'bold' | 'dim' | 'red' | 'yellow' | 'green'>;

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
const num = (n: number): string => n.toLocaleString('en-US');

function splitText(s: MemtraceWireSplit): string {
  if (s.totalBytes <= 0) return '';
  return `Lwt's own ${formatBytes(s.lwtBytes)} (${pct(s.lwtBytes / s.totalBytes)}), application ${formatBytes(s.appBytes)}`;
}

/** Control characters from the trace never reach the terminal raw. */
const clean = printable;

function siteName(s: MemtraceWireSite): string {
  return s.owner === 'lwt' ? `[Lwt] ${clean(s.label)}` : clean(s.label);
}

export function renderTextReport(r: MemtraceWireReport, st: TextStyle): string {
  const out: string[] = [];
  const t = r.trace;
  const i = r.integrity;
  out.push(st.bold(`memtrace: ${clean(t.path)}`));
  out.push(
    `  program    ${clean(t.executable)} (pid ${t.pid} on ${clean(t.host)})${t.context === null ? '' : `, context ${clean(t.context)}`}`,
  );
  out.push(
    `  trace      format v${t.formatVersion}, sample rate ${t.sampleRate} per word, ${t.wordSizeBits}-bit words (1 sample ≈ ${formatBytes(t.bytesPerSample)}), ${t.durationS.toFixed(2)} s`,
  );
  out.push(
    `  events     ${num(r.events.allocations)} allocations, ${num(r.events.promotions)} promotions, ${num(r.events.collections)} collections`,
  );
  const checks = `${i.cacheVerifierChecks - i.cacheVerifierFailures}/${i.cacheVerifierChecks} cache verifier checks, ${i.allocIdChecks - i.allocIdMismatches}/${i.allocIdChecks} allocation-id checks`;
  out.push(
    `  integrity  ${i.ok ? st.green('ok') : st.yellow('problems')}: ${checks}${i.unknownLocationCodes > 0 ? `, ${i.unknownLocationCodes} location codes unknown` : ''}`,
  );
  for (const w of i.warnings) out.push(`  ${st.yellow('warning')}    ${clean(w)}`);
  out.push('');

  const tt = r.totals;
  out.push(st.bold('Memory (estimated from the samples)'));
  out.push(
    table(
      [
        [
          'allocated',
          formatBytes(tt.allocated.totalBytes),
          `minor ${formatBytes(tt.allocatedMinorBytes)}, major ${formatBytes(tt.allocatedMajorBytes)}, external ${formatBytes(tt.allocatedExternalBytes)}`,
        ],
        ['', '', splitText(tt.allocated)],
        [
          'promoted',
          formatBytes(tt.promotedBytes),
          tt.allocatedMinorBytes > 0
            ? `${pct(tt.promotedBytes / tt.allocatedMinorBytes)} of the minor allocations`
            : '',
        ],
        [
          'collected',
          formatBytes(tt.collectedBytes),
          `minor ${formatBytes(tt.collectedMinorBytes)}, major ${formatBytes(tt.collectedMajorBytes)}`,
        ],
        [
          'live, peak',
          formatBytes(tt.livePeak.totalBytes),
          `at ${tt.peakTimeS.toFixed(2)} s; ${splitText(tt.livePeak)}`,
        ],
        ['live, end', formatBytes(tt.liveEnd.totalBytes), splitText(tt.liveEnd)],
      ].map((row) => row.map((c) => `  ${c}`)),
      ['left', 'right', 'left'],
    ),
  );
  out.push(
    `  live memory over time  ${sparkline(
      r.timeline.bins.map((b) => b.liveBytes),
      SPARK_WIDTH,
    )}`,
  );
  out.push('');

  const byId = new Map(r.sites.map((s) => [s.id, s]));
  const ranking = (title: string, ids: number[], pick: (s: MemtraceWireSite) => number, total: number): void => {
    out.push(st.bold(title));
    if (ids.length === 0) {
      out.push('  (none)');
      out.push('');
      return;
    }
    const rows: string[][] = [['  bytes', 'share', 'young/promoted/major/live', 'site']];
    for (const id of ids) {
      const s = byId.get(id);
      if (s === undefined) continue;
      const l = s.lifetime;
      const lt = [l.collectedYoungBytes, l.promotedCollectedBytes, l.majorCollectedBytes, l.neverCollectedBytes];
      const sum = lt.reduce((a, b) => a + b, 0);
      rows.push([
        `  ${formatBytes(pick(s))}`,
        total > 0 ? pct(pick(s) / total) : '',
        sum > 0 ? lt.map((x) => pct(x / sum)).join('/') : '',
        siteName(s),
      ]);
    }
    out.push(table(rows, ['right', 'right', 'left', 'left']));
    out.push('');
  };
  ranking('Sites by bytes allocated', r.rankings.byAllocated, (s) => s.allocatedBytes, tt.allocated.totalBytes);
  ranking('Sites by bytes live at the end', r.rankings.byLiveEnd, (s) => s.liveEndBytes, tt.liveEnd.totalBytes);
  ranking(
    `Sites by bytes live at the peak (${tt.peakTimeS.toFixed(2)} s)`,
    r.rankings.byLivePeak,
    (s) => s.livePeakBytes,
    tt.livePeak.totalBytes,
  );

  if (r.tasks.length > 0) {
    out.push(st.bold('Memory by Lwt task'));
    const rows: string[][] = [['  allocated', "Lwt's own", 'live at peak', 'live at end', 'task']];
    for (const t of r.tasks.slice(0, 20))
      rows.push([
        `  ${formatBytes(t.allocatedBytes)}`,
        formatBytes(t.lwtAllocatedBytes),
        formatBytes(t.livePeakBytes),
        formatBytes(t.liveEndBytes),
        clean(t.name),
      ]);
    out.push(table(rows, ['right', 'right', 'right', 'right', 'left']));
    out.push('');
  }
  const lp = r.lwtPromises;
  if (lp.sites.length > 0) {
    const o = lp.overhead;
    out.push(st.bold('Lwt promises by creation site'));
    out.push(
      `  Lwt's own machinery: ${pct(o.allocatedShare)} of the bytes allocated, ${pct(o.livePeakShare)} of the live peak, ${pct(o.liveEndShare)} of the end`,
    );
    out.push(
      lp.promises === null
        ? "  promises: no Lwt promise block sampled (Lwt's new_pending), so no count"
        : `  promises: ${num(Math.round(lp.promises))} ± ${num(Math.round(lp.promisesStdErr ?? 0))} (samples of the promise blocks / (rate × ${lp.wordsPerPromise} words per promise); ± one standard error)`,
    );
    const rows: string[][] = [['  promises', '± s.e.', 'lifetime', 'allocated', 'live peak', 'live end', 'site']];
    for (const p of lp.sites.slice(0, 15))
      rows.push([
        `  ${p.promisesBelow95 !== null ? `< ${num(p.promisesBelow95)}` : p.promises === null ? '?' : num(Math.round(p.promises))}`,
        p.promisesStdErr === null || p.promisesBelow95 !== null ? '' : num(Math.round(p.promisesStdErr)),
        p.meanPromiseLifetimeS === null ? '' : `${(p.meanPromiseLifetimeS * 1000).toFixed(1)} ms`,
        formatBytes(p.allocatedBytes),
        formatBytes(p.livePeakBytes),
        formatBytes(p.liveEndBytes),
        `${clean(p.label)} via ${clean(p.via)}`,
      ]);
    out.push(table(rows, ['right', 'right', 'right', 'right', 'right', 'right', 'left']));
    if (lp.sites.slice(0, 15).some((p) => p.promisesBelow95 !== null)) out.push(`  ${PROMISES_BELOW_NOTE}`);
    out.push('');
  }
  if (r.taskCounts.length > 0) {
    out.push(st.bold('Lwt tasks, exact counts (recorded by the program)'));
    for (const c of r.taskCounts)
      out.push(`  ${clean(c.name)}: ${num(c.started)} started, ${num(c.finished)} finished`);
    out.push('');
  }
  out.push(st.bold('Leak suspects'));
  if (r.leaks.length === 0) out.push('  none');
  r.leaks.forEach((l, k) => {
    out.push(`  ${k + 1}. ${st.red(clean(l.label))}${l.owner === 'lwt' ? ' (inside Lwt)' : ''}`);
    out.push(
      `     ${formatBytes(l.liveEndBytes)} live at the end (${pct(l.shareOfEndLive)} of it), growing ${formatBytes(l.growthBytesPerS)}/s; ${pct(l.retainedFraction)} of what it allocated is never freed`,
    );
    out.push(`     ${sparkline(l.curve, SPARK_WIDTH)}`);
    const why = r.leakVerdicts.find((v) => v.siteId === l.siteId);
    if (why !== undefined) out.push(`     why: ${clean(why.reason)}`);
  });
  const cleared = r.leakVerdicts.filter((v) => !v.suspect);
  if (cleared.length > 0) {
    out.push(st.dim('  Not suspects, among the sites holding the most at the end:'));
    for (const v of cleared.slice(0, 8))
      out.push(
        st.dim(
          `  - ${clean(v.label)}${v.owner === 'lwt' ? ' (inside Lwt)' : ''}, ${formatBytes(v.liveEndBytes)} at the end: ${clean(v.reason)}`,
        ),
      );
  }
  out.push('');
  out.push(st.bold('Allocation races'));
  if (r.races.length === 0) out.push('  none');
  r.races.forEach((w, k) => {
    out.push(`  ${k + 1}. ${st.yellow(`${w.startS.toFixed(2)}–${w.endS.toFixed(2)} s`)}: ${clean(w.explanation)}`);
    out.push(
      `     allocated ${formatBytes(w.allocatedBytesPerS)}/s while ${formatBytes(w.collectedBytesPerS)}/s was collected`,
    );
    for (const s of w.sites)
      out.push(
        `     ${pct(s.shareOfGrowth).padStart(4)} ${clean(s.label)}${s.owner === 'lwt' ? ' (inside Lwt)' : ''}: +${formatBytes(s.growthBytes)}, ${pct(s.reclaimedFraction)} reclaimed later`,
      );
  });
  const others = r.growthWindows.filter((w) => w.kind !== 'race');
  for (const w of others) out.push(`  ${st.dim(`(not a race) ${clean(w.explanation)}`)}`);
  out.push('');
  out.push(
    `${st.bold('Verdict')}: ${r.steadyState.steady ? st.green('steady') : 'not steady'}: ${r.steadyState.reason}`,
  );
  return `${out.join('\n')}\n`;
}
