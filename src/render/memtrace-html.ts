// The self-contained HTML report: one file, no network, inline CSS, SVG drawn here, and a
// small inline script for the interactive flame graph (memtrace-flame-script.ts).
import { axisText, byteAxis, secondsAxis, secondsText } from '../base/axis.js';
import { HUE, PALETTE_LIGHT } from '../base/palette.js';
import { formatBytes } from '../base/units.js';
import {
  PROMISES_BELOW_NOTE,
  type MemtraceWireReport,
  type MemtraceWireSite,
  type MemtraceWireSplit,
} from '../wire/memtrace.js';
import type { FlameData } from '../analyses/memtrace/folded.js';
import { FLAME_SCRIPT } from './memtrace-flame-script.js';
import { escapeHtml as h, jsonForScript } from './html-escape.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f7f7f5}
main{max-width:1240px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#5b6570}.card{background:#fff;border:1px solid #e2e2df;border-radius:6px;padding:12px 14px;margin:8px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:10px}
.big{font-size:20px;font-weight:600}.k{color:#5b6570;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.lwt{display:inline-block;font-size:11px;padding:0 5px;border-radius:3px;background:#d6e6f5;color:#1c4f80;margin-right:4px}
.app{display:inline-block;font-size:11px;padding:0 5px;border-radius:3px;background:#f6e2cf;color:#8a4a12;margin-right:4px}
.warn{color:#8a5a00}.bad{color:#b3261e}.good{color:#1e7a3c}
.bar{display:flex;height:10px;width:160px;border-radius:2px;overflow:hidden;background:#eee}
.bar span{display:block;height:100%}
.l1{background:#009E73}.l2{background:#E69F00}.l3{background:#56B4E9}.l4{background:#D55E00}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
#flame{max-height:80vh;overflow:auto}#flame svg text{font:11px ui-monospace,monospace;pointer-events:none;fill:#111}#flame svg g{cursor:pointer}
code{font:12px ui-monospace,monospace}
`;

// Chart colours from the shared colour-blind-safe palette (src/base/palette.ts).
const LIVE_FILL = PALETTE_LIGHT[HUE.orange];
const PEAK_STROKE = PALETTE_LIGHT[HUE.vermillion];
const RACE_FILL = '#f6d2bd';

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;

function ownerBadge(owner: 'app' | 'lwt'): string {
  return owner === 'lwt'
    ? '<span class="lwt" title="allocated inside Lwt on behalf of this site">Lwt</span>'
    : '<span class="app">app</span>';
}

function splitLine(s: MemtraceWireSplit): string {
  if (s.totalBytes <= 0) return '';
  return `<div class="sub">Lwt's own ${h(formatBytes(s.lwtBytes))} (${pct(s.lwtBytes / s.totalBytes)}) · application ${h(formatBytes(s.appBytes))}</div>`;
}

/** The live-memory chart: area of live bytes, shaded windows (races red, others grey). */
function timelineSvg(r: MemtraceWireReport): string {
  const bins = r.timeline.bins;
  const W = 1180;
  const H = 220;
  if (bins.length === 0) return '<p class="sub">(no events)</p>';
  const ya = byteAxis(Math.max(1, ...bins.map((b) => b.liveBytes)));
  const xa = secondsAxis(Math.max(r.timeline.binWidthS * bins.length, 1e-9));
  // The left margin fits the longest y label (10 px sans-serif: at most 6.5 px a character)
  // plus the gap to the axis, so that "11.5 MiB" is never cut to "1.5 MiB".
  const yLabels = ya.ticks.map((v) => axisText(v, ya));
  const pad = Math.ceil(Math.max(...yLabels.map((t) => t.length)) * 6.5) + 10;
  const right = 12;
  const x = (t: number): number => pad + (t / xa.max) * (W - pad - right);
  const y = (v: number): number => H - 24 - (v / ya.max) * (H - 40);
  const parts: string[] = [];
  for (const w of r.growthWindows) {
    const fill = w.kind === 'race' ? RACE_FILL : '#e6e6e6';
    parts.push(
      `<rect x="${x(w.startS).toFixed(1)}" y="10" width="${Math.max(1, x(w.endS) - x(w.startS)).toFixed(1)}" height="${H - 34}" fill="${fill}"><title>${h(w.kind)}: ${h(w.explanation)} (${h(axisText(w.startS, xa))} to ${h(axisText(w.endS, xa))})</title></rect>`,
    );
  }
  for (const v of ya.ticks)
    parts.push(
      `<line x1="${pad}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e2e2df"/>`,
    );
  const pts = bins.map((b) => `${x(b.tS + r.timeline.binWidthS).toFixed(1)},${y(b.liveBytes).toFixed(1)}`);
  const end = r.timeline.binWidthS * bins.length;
  parts.push(
    `<polygon points="${x(0).toFixed(1)},${y(0).toFixed(1)} ${pts.join(' ')} ${x(end).toFixed(1)},${y(0).toFixed(1)}" fill="${LIVE_FILL}" fill-opacity="0.45" stroke="${LIVE_FILL}"><title>live memory, peak ${h(formatBytes(r.totals.livePeak.totalBytes))}</title></polygon>`,
  );
  // A mark per bin, so that every value has a tooltip.
  for (const b of bins) {
    const t = b.tS + r.timeline.binWidthS;
    parts.push(
      `<circle cx="${x(t).toFixed(1)}" cy="${y(b.liveBytes).toFixed(1)}" r="2.5" fill="${LIVE_FILL}"><title>${h(axisText(t, xa))}: ${h(formatBytes(b.liveBytes))} live</title></circle>`,
    );
  }
  const pk = r.totals.peakTimeS;
  parts.push(
    `<line x1="${x(pk).toFixed(1)}" x2="${x(pk).toFixed(1)}" y1="10" y2="${H - 24}" stroke="${PEAK_STROKE}" stroke-width="1.5" stroke-dasharray="3 3"><title>peak ${h(formatBytes(r.totals.livePeak.totalBytes))} at ${h(axisText(pk, xa))}</title></line>`,
  );
  yLabels.forEach((text, k) =>
    parts.push(
      `<text class="y-label" x="${pad - 6}" y="${(y(ya.ticks[k] ?? 0) + 4).toFixed(1)}" text-anchor="end" font-size="10" fill="#5b6570">${h(text)}</text>`,
    ),
  );
  xa.ticks.forEach((t, k) => {
    const anchor = k === xa.ticks.length - 1 ? 'end' : k === 0 ? 'start' : 'middle';
    parts.push(
      `<text class="x-label" x="${x(t).toFixed(1)}" y="${H - 8}" text-anchor="${anchor}" font-size="10" fill="#5b6570">${h(axisText(t, xa))}</text>`,
    );
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="live memory over time">${parts.join('')}</svg>`;
}

function curveSvg(values: number[], w = 220, hgt = 40): string {
  const max = Math.max(1, ...values);
  const pts = values.map(
    (v, i) =>
      `${((i / Math.max(values.length - 1, 1)) * w).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`,
  );
  return `<svg viewBox="0 0 ${w} ${hgt}" width="${w}" height="${hgt}"><polyline points="${pts.join(' ')}" fill="none" stroke="${PEAK_STROKE}" stroke-width="1.5"><title>live bytes over the run, peak ${h(formatBytes(max))}</title></polyline></svg>`;
}

function lifetimeBar(s: MemtraceWireSite): string {
  const l = s.lifetime;
  const parts = [l.collectedYoungBytes, l.promotedCollectedBytes, l.majorCollectedBytes, l.neverCollectedBytes];
  const sum = parts.reduce((a, b) => a + b, 0);
  if (sum <= 0) return '';
  const title = `collected young ${formatBytes(l.collectedYoungBytes)}, promoted then collected ${formatBytes(l.promotedCollectedBytes)}, major then collected ${formatBytes(l.majorCollectedBytes)}, never collected ${formatBytes(l.neverCollectedBytes)}`;
  return `<div class="bar" title="${h(title)}">${parts.map((p, i) => (p > 0 ? `<span class="l${i + 1}" style="width:${((p / sum) * 100).toFixed(1)}%"></span>` : '')).join('')}</div>`;
}

function rankingTable(
  title: string,
  ids: number[],
  sites: Map<number, MemtraceWireSite>,
  pick: (s: MemtraceWireSite) => number,
  total: number,
): string {
  const rows = ids
    .map((id) => sites.get(id))
    .filter((s): s is MemtraceWireSite => s !== undefined)
    .map(
      (s) =>
        `<tr><td class="n">${h(formatBytes(pick(s)))}</td><td class="n">${total > 0 ? pct(pick(s) / total) : ''}</td><td>${ownerBadge(s.owner)}<code>${h(s.label)}</code></td><td>${lifetimeBar(s)}</td></tr>`,
    );
  return `<h3>${h(title)}</h3><table><tr><th class="n">bytes</th><th class="n">share</th><th>site (first frame outside Lwt)</th><th>lifetime</th></tr>${rows.join('') || '<tr><td colspan="4">(none)</td></tr>'}</table>`;
}

export function renderHtmlReport(r: MemtraceWireReport, flame: FlameData): string {
  const t = r.trace;
  const i = r.integrity;
  const tt = r.totals;
  const sites = new Map(r.sites.map((s) => [s.id, s]));
  const card = (k: string, v: string, extra = ''): string =>
    `<div class="card"><div class="k">${h(k)}</div><div class="big">${h(v)}</div>${extra}</div>`;
  const leaks = r.leaks.length
    ? r.leaks
        .map(
          (l) =>
            `<div class="card"><div>${ownerBadge(l.owner)}<code class="bad">${h(l.label)}</code></div><div>${h(formatBytes(l.liveEndBytes))} live at the end (${pct(l.shareOfEndLive)} of it), growing ${h(formatBytes(l.growthBytesPerS))}/s, ${pct(l.retainedFraction)} of what it allocated never freed; live bytes did not fall in ${pct(l.risingFraction)} of the steps</div>${curveSvg(l.curve)}</div>`,
        )
        .join('')
    : '<p>No leak suspect.</p>';
  const verdicts = r.leakVerdicts.length
    ? `<table id="leak-verdicts"><tr><th>verdict</th><th class="n">live at end</th><th>site</th><th>why</th></tr>${r.leakVerdicts
        .map(
          (v) =>
            `<tr><td class="${v.suspect ? 'bad' : 'good'}" style="white-space:nowrap">${v.suspect ? 'suspect' : 'not a suspect'}</td><td class="n">${h(formatBytes(v.liveEndBytes))}</td><td>${ownerBadge(v.owner)}<code>${h(v.label)}</code></td><td>${h(v.reason)}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const lp = r.lwtPromises;
  const o = lp.overhead;
  const num = (x: number | null): string => (x === null ? '?' : Math.round(x).toLocaleString('en-US'));
  const promises =
    lp.sites.length === 0
      ? ''
      : `<h2>Lwt promises by creation site</h2>
<div class="card">Lwt's own machinery: ${pct(o.allocatedShare)} of the bytes allocated, ${pct(o.livePeakShare)} of the live peak, ${pct(o.liveEndShare)} of the end.
${lp.promises === null ? "No promise block (Lwt's new_pending) sampled: no count." : `Pending promises: ${num(lp.promises)} ± ${num(lp.promisesStdErr)} (samples of the promise blocks / (sample rate × ${lp.wordsPerPromise} words per promise); ± one standard error).`}</div>
<table id="lwt-promises"><tr><th class="n">promises</th><th class="n">± s.e.</th><th class="n">lifetime</th><th class="n">allocated</th><th class="n">live at peak</th><th class="n">live at end</th><th>creation site</th><th>via</th></tr>${lp.sites
          .map(
            (p) =>
              `<tr><td class="n">${p.promisesBelow95 === null ? num(p.promises) : `&lt; ${num(p.promisesBelow95)}`}</td><td class="n">${p.promisesBelow95 === null ? num(p.promisesStdErr) : ''}</td><td class="n">${p.meanPromiseLifetimeS === null ? '' : h(secondsText(p.meanPromiseLifetimeS))}</td><td class="n">${h(formatBytes(p.allocatedBytes))}</td><td class="n">${h(formatBytes(p.livePeakBytes))}</td><td class="n">${h(formatBytes(p.liveEndBytes))}</td><td><code>${h(p.label)}</code></td><td><code>${h(p.via)}</code></td></tr>`,
          )
          .join('')}</table>${
          lp.sites.some((p) => p.promisesBelow95 !== null) ? `<div class="sub">${h(PROMISES_BELOW_NOTE)}</div>` : ''
        }${
          r.taskCounts.length === 0
            ? ''
            : `<h3>Lwt tasks, exact counts (recorded by the program)</h3><table><tr><th>task</th><th class="n">started</th><th class="n">finished</th></tr>${r.taskCounts
                .map(
                  (c) =>
                    `<tr><td><code>${h(c.name)}</code></td><td class="n">${num(c.started)}</td><td class="n">${num(c.finished)}</td></tr>`,
                )
                .join('')}</table>`
        }`;
  const windowHtml = (w: MemtraceWireReport['growthWindows'][number]): string =>
    `<div class="card"><div><b class="${w.kind === 'race' ? 'warn' : ''}">${h(w.kind === 'race' ? 'Allocation race' : w.kind === 'gc-cycle' ? 'A GC cycle (not a race)' : w.kind === 'gc-swing' ? 'An ordinary GC swing (not a race)' : w.kind === 'leak' ? 'Growth from a leak (not a race)' : 'Retained growth (not a race)')}</b> ${h(secondsText(w.startS))} to ${h(secondsText(w.endS))}</div><div>${h(w.explanation)}</div>` +
    `<div class="sub">allocated ${h(formatBytes(w.allocatedBytesPerS))}/s, collected ${h(formatBytes(w.collectedBytesPerS))}/s during the window; ${pct(w.freedLaterFraction)} of what piled up freed later</div>` +
    `<table><tr><th class="n">growth</th><th class="n">share</th><th>site</th><th class="n">reclaimed later</th></tr>${w.sites
      .map(
        (s) =>
          `<tr><td class="n">+${h(formatBytes(s.growthBytes))}</td><td class="n">${pct(s.shareOfGrowth)}</td><td>${ownerBadge(s.owner)}<code>${h(s.label)}</code></td><td class="n">${pct(s.reclaimedFraction)}</td></tr>`,
      )
      .join('')}</table></div>`;
  const races = r.races.length ? r.races.map(windowHtml).join('') : '<p>No allocation race.</p>';
  const others = r.growthWindows
    .filter((w) => w.kind !== 'race')
    .map(windowHtml)
    .join('');
  const checks = `${i.cacheVerifierChecks - i.cacheVerifierFailures}/${i.cacheVerifierChecks} cache verifier checks, ${i.allocIdChecks - i.allocIdMismatches}/${i.allocIdChecks} allocation-id checks`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>memlens memtrace: ${h(t.executable)}</title><style>${CSS}</style></head>
<body><main>
<h1>OCaml memory: <code>${h(t.executable)}</code></h1>
<div class="sub">pid ${h(t.pid)} on ${h(t.host)} · memtrace format v${t.formatVersion} · sample rate ${t.sampleRate} per word · ${t.wordSizeBits}-bit words (1 sample ≈ ${h(formatBytes(t.bytesPerSample))}) · ${h(secondsText(t.durationS))} · ${h(t.path)}${t.context === null ? '' : ` · context ${h(t.context)}`}</div>
<div class="card">Events: ${r.events.allocations.toLocaleString('en-US')} allocations, ${r.events.promotions.toLocaleString('en-US')} promotions, ${r.events.collections.toLocaleString('en-US')} collections.
Integrity: <b class="${i.ok ? 'good' : 'warn'}">${i.ok ? 'ok' : 'problems'}</b> (${h(checks)}${i.unknownLocationCodes > 0 ? `, ${i.unknownLocationCodes} unknown location codes` : ''})
${i.warnings.map((w) => `<div class="warn">⚠ ${h(w)}</div>`).join('')}</div>
<h2>Memory</h2>
<div class="grid">
${card('allocated', formatBytes(tt.allocated.totalBytes), `<div class="sub">minor ${h(formatBytes(tt.allocatedMinorBytes))} · major ${h(formatBytes(tt.allocatedMajorBytes))} · external ${h(formatBytes(tt.allocatedExternalBytes))}</div>${splitLine(tt.allocated)}`)}
${card('promoted', formatBytes(tt.promotedBytes))}
${card('collected', formatBytes(tt.collectedBytes), `<div class="sub">minor ${h(formatBytes(tt.collectedMinorBytes))} · major ${h(formatBytes(tt.collectedMajorBytes))}</div>`)}
${card(`live at peak (${secondsText(tt.peakTimeS)})`, formatBytes(tt.livePeak.totalBytes), splitLine(tt.livePeak))}
${card('live at end', formatBytes(tt.liveEnd.totalBytes), splitLine(tt.liveEnd))}
</div>
<h2>Live memory over time</h2>
<div class="card">${timelineSvg(r)}<div class="sub">Shaded: sustained growth windows (red: allocation races). Dashed line: the peak.</div></div>
<h2>Findings</h2>
<div class="card"><b>${r.steadyState.steady ? 'Steady' : 'Not steady'}</b>: ${h(r.steadyState.reason)}</div>
<h3>Leak suspects</h3>${leaks}${verdicts}
<h3>Allocation races</h3>${races}${others}
<h2>Allocation sites</h2>
<div class="legend sub">lifetime: <span class="l1"></span>collected young<span class="l2"></span>promoted, then collected<span class="l3"></span>major, then collected<span class="l4"></span>never collected</div>
${rankingTable('By bytes allocated', r.rankings.byAllocated, sites, (s) => s.allocatedBytes, tt.allocated.totalBytes)}
${rankingTable('By bytes live at the end', r.rankings.byLiveEnd, sites, (s) => s.liveEndBytes, tt.liveEnd.totalBytes)}
${rankingTable('By bytes live at the peak', r.rankings.byLivePeak, sites, (s) => s.livePeakBytes, tt.livePeak.totalBytes)}
${
  r.tasks.length === 0
    ? ''
    : `<h3>By Lwt task</h3><table><tr><th class="n">allocated</th><th class="n">Lwt's own</th><th class="n">live at peak</th><th class="n">live at end</th><th>task</th></tr>${r.tasks
        .map(
          (k) =>
            `<tr><td class="n">${h(formatBytes(k.allocatedBytes))}</td><td class="n">${h(formatBytes(k.lwtAllocatedBytes))}</td><td class="n">${h(formatBytes(k.livePeakBytes))}</td><td class="n">${h(formatBytes(k.liveEndBytes))}</td><td><code>${h(k.name)}</code></td></tr>`,
        )
        .join('')}</table>`
}
${promises}
<h2>Allocations by backtrace</h2>
<div class="card"><label><input type="checkbox" id="hide-lwt"> hide Lwt frames</label> <span id="flame-info" class="sub"></span><div id="flame"></div></div>
<script type="application/json" id="flame-data">${jsonForScript(flame)}</script>
<script>${FLAME_SCRIPT}</script>
</main></body></html>
`;
}
