#!/usr/bin/env bash
# Issue 13 ("performance at the edges") in one run: every figure of its three measured sections,
# this build beside an older one, each pair taken at the same moment of the same machine.
#
#   npm run build
#   BEFORE=<root of another memlens checkout, built> bash bench/edges.sh 2>&1 | tee edges.log
#
# as root, from the repository root, after .ci/setup-system (smem, hyperfine, Chromium). The older
# checkout needs its own `npm ci` (its dependencies may differ) and must have bench/trace/
# throughput.ts. About 15 minutes. What it runs, in order:
# 1. snapshot: the small-process workload (bench/snapshot/run.sh, WORKLOAD=small), then the heavy
#    one, memlens and the older memlens beside smem, the floor and `node -e 0`; then `--version`
#    of both beside `node -e 0` (hyperfine -N, no shell in between; this build's through main.cjs,
#    the installed command, the older one's through main.js, which was its installed command).
# 2. tracer: bench/trace/throughput.js at 100,000 calls/s for 30 s into SQLite, each build with its
#    own harness, alternated twice (calls kept and lost, CPU per call, peak RSS).
# 3. serve at idle: bench/serve/idle-cpu.mjs for both builds at once, each with its own headless
#    Chromium on its dashboard, with tracing and then without (share of one core, per thread).
# The load average is printed between the steps: read a figure only beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BEFORE:?BEFORE=<root of an older memlens checkout, built>}"
before=$(cd "$BEFORE" && pwd)
[ -f dist/src/cli/main.js ] || { echo "run npm run build first" >&2; exit 1; }
[ -f "$before/dist/src/cli/main.js" ] || { echo "$before is not built" >&2; exit 1; }
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "== 1. snapshot (before: $before)"
WORKLOAD=small RUNS=${RUNS:-10} BEFORE="$before/dist/src/cli/main.js" bash bench/snapshot/run.sh
RUNS=${HEAVY_RUNS:-5} BEFORE="$before/dist/src/cli/main.js" bash bench/snapshot/run.sh
load
hyperfine -N --warmup 3 --runs 30 --style basic \
  -n 'node -e 0' 'node -e 0' \
  -n 'memlens --version' 'node dist/src/cli/main.cjs --version' \
  -n 'memlens before --version' "node $before/dist/src/cli/main.js --version"
load

echo "== 2. tracer at 100,000 calls/s for 30 s into SQLite"
for round in 1 2; do
  for build in . "$before"; do
    echo "round $round, $([ "$build" = . ] && echo this build || echo before)"; load
    (cd "$build" && node dist/bench/trace/throughput.js --rates 100000 --seconds 30)
  done
done
load

echo "== 3. serve at idle, 120 s, both builds at once"
for tracing in trace notrace; do
  LABEL=before node bench/serve/idle-cpu.mjs "$before/dist" 120 "$tracing" browser &
  LABEL=now node bench/serve/idle-cpu.mjs "$PWD/dist" 120 "$tracing" browser
  wait
done
load
