#!/usr/bin/env bash
# The snapshot benchmark: memlens snapshot --json vs smem vs the floor (a plain read of every
# smaps_rollup) vs `node -e 0` (Node's own start), side by side in one hyperfine run.
#
#   npm run build && bash bench/snapshot/run.sh                  # as root, from the repository root
#   npm run build && WORKLOAD=small bash bench/snapshot/run.sh
#
# Two workloads (bench/snapshot/workload.c):
# - heavy (default): 1,000 children with 1 MiB private memory in 200 mappings and 16 MiB shared
#   each; the kernel's page-table walk dominates.
# - small: 600 idle children of 1 MiB private memory in one mapping, nothing shared; little
#   kernel work per process, so what a tool spends per process and at start shows.
# Environment: WORKLOAD (heavy), and to override it CHILDREN, PRIVATE_KIB, SHARED_KIB, VMAS; RUNS (10);
# BEFORE, the main.js of another memlens build to run beside this one (as "memlens before").
# Writes bench/results/snapshot.{md,json} (heavy) or snapshot-small.{md,json} and prints the peak
# RSS of each tool.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORKLOAD=${WORKLOAD:-heavy}
case "$WORKLOAD" in
  heavy) defaults=(1000 1024 16384 200); results=bench/results/snapshot ;;
  small) defaults=(600 1024 0 1); results=bench/results/snapshot-small ;;
  *) echo "WORKLOAD is heavy or small" >&2; exit 2 ;;
esac
CHILDREN=${CHILDREN:-${defaults[0]}}
PRIVATE_KIB=${PRIVATE_KIB:-${defaults[1]}}
SHARED_KIB=${SHARED_KIB:-${defaults[2]}}
VMAS=${VMAS:-${defaults[3]}}
RUNS=${RUNS:-10}

[ -f dist/src/cli/main.js ] || { echo "run npm run build first" >&2; exit 1; }
work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/workload" bench/snapshot/workload.c
gcc -O2 -Wall -o "$work/floor" bench/snapshot/floor.c

# The workload lives while fd 3 (its stdin) is open.
mkfifo "$work/ctl"
"$work/workload" "$CHILDREN" "$PRIVATE_KIB" "$SHARED_KIB" "$VMAS" < "$work/ctl" > "$work/pids" &
exec 3> "$work/ctl"
until grep -qx ready "$work/pids" 2>/dev/null; do sleep 0.2; done
echo "workload $WORKLOAD: $CHILDREN children x ${PRIVATE_KIB} KiB private in $VMAS mappings + ${SHARED_KIB} KiB shared; $(ls -d /proc/[0-9]* | wc -l) processes in /proc"

memlens="node dist/src/cli/main.js snapshot --json"
smem="smem -c 'pid user command swap uss pss rss'"
floor="$work/floor"

# What each reports, as a check that they look at the same processes.
echo "memlens reports $($memlens | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).processes.length))') processes"
echo "smem reports $(eval "$smem" | tail -n +2 | wc -l) processes"
echo "floor: $("$floor" 2>&1)"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

before=()
[ -n "${BEFORE:-}" ] && before=(-n 'memlens before' "node $BEFORE snapshot --json > /dev/null")
mkdir -p bench/results
hyperfine --warmup 2 --runs "$RUNS" --style basic \
  --export-markdown "$results.md" --export-json "$results.json" \
  -n memlens "$memlens > /dev/null" \
  -n smem "$smem > /dev/null" \
  -n floor "$floor 2> /dev/null" \
  -n 'node -e 0' "node -e 0" \
  "${before[@]}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Peak RSS (maximum resident set size of the process, from wait4 via GNU time), best of three.
for name in memlens smem; do
  cmd=$memlens
  [ "$name" = smem ] && cmd=$smem
  peak=0
  for _ in 1 2 3; do
    kib=$( { /usr/bin/time -f '%M' sh -c "$cmd > /dev/null" ; } 2>&1 | tail -1 )
    [ "$kib" -gt "$peak" ] && peak=$kib
  done
  echo "peak RSS $name: $peak KiB"
done
