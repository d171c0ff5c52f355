#!/usr/bin/env bash
# The snapshot benchmark: memlens snapshot --json vs smem vs the floor (a plain read of every
# smaps_rollup), side by side in one hyperfine run, over a workload of about 1,000 processes.
#
#   npm run build && bash bench/snapshot/run.sh            # as root, from the repository root
#
# Environment: CHILDREN (1000), PRIVATE_KIB (1024), SHARED_KIB (16384), VMAS (200), RUNS (10).
# Writes bench/results/snapshot.{md,json} and prints the peak RSS of each tool.
set -euo pipefail
cd "$(dirname "$0")/../.."
CHILDREN=${CHILDREN:-1000}
PRIVATE_KIB=${PRIVATE_KIB:-1024}
SHARED_KIB=${SHARED_KIB:-16384}
VMAS=${VMAS:-200}
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
echo "workload: $CHILDREN children x ${PRIVATE_KIB} KiB private in $VMAS mappings + ${SHARED_KIB} KiB shared; $(ls -d /proc/[0-9]* | wc -l) processes in /proc"

memlens="node dist/src/cli/main.js snapshot --json"
smem="smem -c 'pid user command swap uss pss rss'"
floor="$work/floor"

# What each reports, as a check that they look at the same processes.
echo "memlens reports $($memlens | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).processes.length))') processes"
echo "smem reports $(eval "$smem" | tail -n +2 | wc -l) processes"
echo "floor: $("$floor" 2>&1)"

mkdir -p bench/results
hyperfine --warmup 2 --runs "$RUNS" --style basic \
  --export-markdown bench/results/snapshot.md --export-json bench/results/snapshot.json \
  -n memlens "$memlens > /dev/null" \
  -n smem "$smem > /dev/null" \
  -n floor "$floor 2> /dev/null"

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
