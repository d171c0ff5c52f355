#!/bin/bash
# The capture script's cost per round of a series, under BusyBox sh with only BusyBox applets on
# PATH (as on a board): CPU time (user + system of the shell and every command it runs) and
# archive bytes, per round and per process. Runs the series twice, with 1 and with ROUNDS rounds
# at --every 1s, over the first N processes of /proc, and takes the difference, so the first
# round's extras (fixed files, metadata) are left out. The processes are user processes (with a
# command line); kernel threads cost less.
# Usage: [MEMLENS_BENCH_PIDS='P...'] bench/capture/series-cost.sh N ROUNDS [smaps]   (smaps: keep full smaps, as --smaps;
# N = 0: every process, as the script does without pid arguments)
set -eu
n=${1:-50}
rounds=${2:-11}
smaps=no
[ "${3:-}" = smaps ] && smaps=yes
here=$(cd "$(dirname "$0")/../.." && pwd)
script=${MEMLENS_BENCH_SCRIPT:-$here/scripts/capture.sh} # another version of the script, to compare
busybox=$(command -v busybox)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/bin"
for a in cat cp wc readlink mkdir rm date hostname uname id sleep; do ln -s "$busybox" "$dir/bin/$a"; done
# User processes (a non-empty cmdline): kernel threads have next to nothing to copy.
pids=$(for p in $(ls /proc | grep -E '^[0-9]+$' | sort -n); do
  [ -n "$( { tr -d '\0' < "/proc/$p/cmdline"; } 2> /dev/null)" ] && echo "$p"
done | head -n "$n" | tr '\n' ' ')
[ "$n" -eq 0 ] && pids=
# MEMLENS_BENCH_PIDS: these processes instead (e.g. the idle children of bench/snapshot/workload.c,
# so that two runs compare on the same processes).
[ -n "${MEMLENS_BENCH_PIDS:-}" ] && pids=$MEMLENS_BENCH_PIDS

run() { # ROUNDS -> prints "cpu_ms bytes"; bash's time counts the shell and all it runs
  local r=$1
  local for_ms=$(((r - 1) * 1000))
  local TIMEFORMAT='%3U %3S'
  # shellcheck disable=SC2086
  { time env -i PATH="$dir/bin" TMPDIR="$dir" MEMLENS_CAPTURE_SMAPS=$smaps MEMLENS_CAPTURE_EVERY_MS=1000 \
    MEMLENS_CAPTURE_FOR_MS=$for_ms "$busybox" sh "$script" $pids > "$dir/out.snap"; } 2> "$dir/time"
  read -r u s < "$dir/time"
  echo "$(echo "$u $s" | awk '{printf "%d", ($1 + $2) * 1000}') $(wc -c < "$dir/out.snap")"
}
hz=1000
run 1 > "$dir/r1"
read -r c1 b1 < "$dir/r1"
run "$rounds" > "$dir/rn"
read -r cn bn < "$dir/rn"
captured=$(grep -ac '^F [0-9]* proc/[0-9]*/status$' "$dir/out.snap" || true)
per_round_ms=$(( (cn - c1) * 1000 / hz / (rounds - 1) ))
per_round_bytes=$(( (bn - b1) / (rounds - 1) ))
procs=$(( captured / rounds ))
echo "processes per round: $procs (asked $n), rounds: $rounds, smaps: $smaps"
echo "first round alone: $((c1 * 1000 / hz)) ms CPU, $b1 bytes"
echo "each further round: $per_round_ms ms CPU, $per_round_bytes bytes"
echo "per process and round: $(( per_round_ms * 1000 / procs )) us CPU, $(( per_round_bytes / procs )) bytes"
