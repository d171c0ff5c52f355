# memlens capture script: reads the /proc files memlens needs and writes ONE archive to stdout.
#
# Runs under any POSIX sh, including BusyBox sh on boards without Node:
#   memlens capture --print-script | ssh board sh > board.snap
#   memlens snapshot --from board.snap
# Arguments, if any, are the pids to capture (default: every process): sh capture.sh 1 42
# MEMLENS_CAPTURE_SMAPS=no leaves out each process's smaps (kept only where smaps_rollup cannot
# be read, e.g. kernels before 4.14): the archive shrinks to a few percent, and `memlens
# snapshot --from` still works; `memlens process PID --from` then has no mappings to show.
# MEMLENS_CAPTURE_FRAMES=yes also copies /proc/kpageflags and /proc/kpagecount (root only; 8 bytes
# per page frame each, 16 MiB per GiB of RAM, copied once to the scratch directory first), so that
# `memlens pages --from` can classify every frame of the board.
# MEMLENS_CAPTURE_PROC=DIR reads another proc tree instead of /proc (a copied or reshaped tree, as
# the tests do with fixtures/proc/older/); the archive names its files proc/… all the same.
# MEMLENS_CAPTURE_EVERY_MS=N and MEMLENS_CAPTURE_FOR_MS=D: a series, one snapshot every N ms for D
# ms (D/N + 1 snapshots, the first at once, the last D ms after it), all in the one archive.
# Commands used besides shell builtins (all BusyBox applets): cat, cp, wc, readlink, mkdir, rm,
# sleep (for a series only), and optionally date, hostname, uname, id, getconf (their absence
# only drops metadata).
#
# Archive format, version 3 for a series, 2 for a single capture (parsed by src/parsers/archive.ts,
# whose ARCHIVE_VERSION is 3):
#   "memlens-capture 3\n"                          magic line ("memlens-capture 2\n" for one capture)
#   then one snapshot, or several (a series), each:
#     records, each:  "<kind> <length> <name>\n" <length bytes> "\n"
#     "end <number of records of the snapshot>\n"  end marker: a snapshot without it is truncated
# A series cut short (power lost, connection dropped) reads up to its last complete snapshot.
# Snapshots after the first leave out what does not change while the machine runs: every file
# that is not a process's (proc/version, proc/config.gz, proc/sys/kernel/*, etc/passwd) and the
# metadata pagesize, hostname, uname, uid, shell-pid, every-ms; the reader takes them from the
# first snapshot. Their time is the metadata epoch (CLOCK_REALTIME, in seconds) with the
# captured proc/uptime (CLOCK_BOOTTIME, in 1/100 s) for the spacing of the snapshots.
# From version 3, a process's cmdline and exe are also left out of a snapshot after the first when
# its stat shows the start time and its comm the name they had in the snapshot before: they cannot
# have changed unless the process ran exec(), and an exec changes the name unless the new program
# has the old one's (a shell exec'ing itself with other arguments: the reader then shows the old
# command line until the process ends). The reader carries them over from the snapshot before when
# the start times agree. This saves the two commands started per process and round (cat, readlink).
# Version 2 was a series without that carry, version 1 exactly one snapshot; a single capture is
# still written as version 2, which memlens releases that predate version 3 read too.
# <length> is decimal, the exact byte count of the payload; payloads may hold any bytes (NULs
# in cmdline), since each file is first copied to a temporary file and framed by the size of
# that copy: a /proc file that grows or shrinks between reads cannot desynchronise the stream.
# <name> is the path without the leading slash ("proc/meminfo", "proc/42/smaps", "etc/passwd")
# or a metadata key; it never holds spaces or newlines. Kinds:
#   F  file contents
#   L  symbolic link target as printed by readlink (the reader drops the final newline)
#   E  file that could not be read: "<reason> <message>\n", reason is permission, missing
#      or error (the message is the one the reading command printed)
#   M  metadata (time, epoch, pagesize, hostname, uname, uid, shell-pid, every-ms, end-time),
#      the output of a command (the reader drops the final newline)
# Bounds of the reader (ARCHIVE_LIMITS in src/parsers/archive.ts): a record of at most 128 MiB,
# at most 1,000,000 records, at most 1 GiB in all (after gunzip); an archive over one is refused
# as corrupt, after reading no more than the bound.
# A process that vanishes mid-capture leaves E records with reason missing, as a live read
# would see it; nothing else changes. Files of each process are read back to back and
# written with one cat, so the archive stays a sequence of whole records.

capture_main() {
  LC_ALL=C
  export LC_ALL
  umask 077
  P=${MEMLENS_CAPTURE_PROC:-/proc}
  case $P in /*) ;; *) P=$PWD/$P ;; esac # the script works from its scratch directory below

  # A private scratch directory: the per-file copies live there, one process at a time.
  T=
  for base in "${TMPDIR:-/tmp}" /tmp /dev/shm /var/tmp "$PWD"; do
    if [ -d "$base" ] && [ -w "$base" ]; then
      try="$base/memlens-capture.$$"
      if mkdir "$try" 2>/dev/null; then
        T=$try
        break
      fi
    fi
  done
  if [ -z "$T" ]; then
    echo "memlens capture: no writable temporary directory (set TMPDIR)" >&2
    return 1
  fi
  trap 'rm -rf "$T"' EXIT
  trap 'exit 1' HUP INT TERM PIPE
  cd "$T" || return 1
  T=$PWD # the traps run after cd, so they need the absolute path (TMPDIR may be relative)
  printf '\n' > nl
  # One directory per process of a flush (copy_process): made once, reused every round.
  mkdir q0 q1 q2 q3 q4 q5 q6 q7 q8 q9 || return 1
  # root reads every process's files; another user only its own (smaps_rollup, smaps and maps need
  # ptrace access: fs/proc/base.c, proc_mem_open), so only those are copied in one go.
  is_root=
  [ "$(id -u 2> /dev/null)" = 0 ] && is_root=1

  every=${MEMLENS_CAPTURE_EVERY_MS:-0}
  span=${MEMLENS_CAPTURE_FOR_MS:-0}
  case $every$span in *[!0-9]*)
    echo "memlens capture: MEMLENS_CAPTURE_EVERY_MS and MEMLENS_CAPTURE_FOR_MS must be numbers of ms" >&2
    return 1
    ;;
  esac
  rounds=1
  if [ "$every" -gt 0 ]; then rounds=$((span / every + 1)); fi

  if [ "$rounds" -gt 1 ]; then printf 'memlens-capture 3\n'; else printf 'memlens-capture 2\n'; fi
  uptime_ms
  start=$up_ms
  round=0
  while :; do
    round=$((round + 1))
    capture_round "$@" || return 1
    [ "$round" -lt "$rounds" ] || break
    # The next snapshot is due `every` ms after the previous one was due: a slow round shortens
    # the pause (never below 0) instead of pushing every later snapshot back.
    uptime_ms
    if [ -n "$up_ms" ] && [ -n "$start" ]; then
      pause=$((start + round * every - up_ms))
    else
      pause=$every
    fi
    if [ "$pause" -gt 0 ]; then
      # A fractional sleep is a BusyBox build option: without it, whole seconds (rounded up).
      frac=$((pause % 1000 + 1000))
      sleep "$((pause / 1000)).${frac#1}" 2> /dev/null || sleep "$(((pause + 999) / 1000))"
    fi
  done
}

# uptime_ms: the first field of /proc/uptime (seconds with two decimals) in ms, in up_ms; empty
# when it cannot be read. Builtins only: no command runs between the rounds of a series.
uptime_ms() {
  up_ms=
  read -r up rest < /proc/uptime 2> /dev/null || return 0
  case $up in
    *.??) ;;
    *) return 0 ;;
  esac
  cs=${up#*.}
  up_ms=$((${up%.*} * 1000 + ${cs#0} * 10))
}

# capture_round PIDS...: one snapshot, its records then its end marker.
capture_round() {
  i=0
  records=0
  : > m

  if [ "$round" -eq 1 ]; then
    meta time date -u +%Y-%m-%dT%H:%M:%SZ
    meta pagesize getconf PAGESIZE || meta pagesize smaps_page_size
    meta hostname hostname
    meta uname uname -a
    meta uid id -u
    i=$((i + 1))
    printf '%s\n' "$$" > "c$i"
    printf 'M shell-pid c%s\n' "$i" >> m
    if [ "$every" -gt 0 ]; then
      i=$((i + 1))
      printf '%s\n' "$every" > "c$i"
      printf 'M every-ms c%s\n' "$i" >> m
    fi
  fi
  meta epoch date +%s

  # Files that do not change while the machine runs: in the first snapshot only (see the top).
  fixed=
  if [ "$round" -eq 1 ]; then fixed="iomem version config.gz sys/kernel/hostname sys/kernel/osrelease sys/kernel/pid_max"; fi
  for f in meminfo vmstat slabinfo zoneinfo buddyinfo pagetypeinfo swaps stat uptime loadavg $fixed; do
    grab "$P/$f" "proc/$f" F
  done
  if [ "${MEMLENS_CAPTURE_FRAMES:-no}" = yes ]; then
    # One at a time, each written out before the next: the scratch copy holds one file. In every
    # snapshot of a series (16 MiB per GiB of RAM each).
    for f in kpageflags kpagecount; do
      grab "$P/$f" "proc/$f" F
      flush || return 1
    done
  fi
  if [ "$round" -eq 1 ]; then grab /etc/passwd etc/passwd F; fi
  flush || return 1

  # With pids as arguments, only those processes; else all of them.
  if [ "$#" -eq 0 ]; then
    set -- "$P"/[0-9]*
  fi
  # Each command started costs a fork and an exec, most of a round's CPU time on a board: the
  # one-line and short text files are copied with builtins (grab_text), and the records of up
  # to 10 processes go out with one wc and one cat when no smaps is kept.
  batch=0
  for d in "$@"; do
    pid=${d#"$P"/}
    case $pid in '' | *[!0-9]*) continue ;; esac
    d=$P/$pid
    denied=
    key=
    # maps only feeds the tracer's seeds (memlens trace over a capture), not a series' views.
    # Without smaps_rollup (Linux before 4.14) smaps is the only source of PSS: always kept.
    extra=
    if [ "$every" -eq 0 ]; then extra=maps; fi
    rollup=smaps_rollup
    big=
    if [ ! -e "$d/smaps_rollup" ]; then
      rollup=
      extra="$extra smaps"
      big=1
    elif [ "${MEMLENS_CAPTURE_SMAPS:-yes}" != no ]; then
      extra="$extra smaps"
      big=1
    fi
    if { [ -n "$is_root" ] || [ -O "$d" ]; } && copy_process "$d" "q$batch" $rollup $extra; then
      key=$cp_key
    else
      # One file at a time, each failure recorded with its reason: a process that is not ours, a
      # file this kernel lacks, a process that went away.
      for f in status stat statm comm cgroup; do
        grab_text "$d/$f" "proc/$pid/$f"
        case $f in
          stat) [ -n "$gt_ok" ] && start_time "c$i" && key=$st_val ;;
          comm) [ -n "$gt_ok" ] && [ -n "$key" ] && read -r gt_line < "c$i" && key="$key $gt_line" ;;
        esac
      done
      cp_dir=
    fi
    # The name is built from digits alone ($pid is checked above); the value is assigned, never
    # parsed as code, so a comm with quotes or $ in it stays data.
    eval "prev=\${ml_key_$pid-}"
    if [ -z "$key" ] || [ "$key" != "$prev" ] || [ "$round" -eq 1 ]; then
      eval "ml_key_$pid=\$key"
      carried=
    else
      carried=1
    fi
    if [ -n "$cp_dir" ]; then
      for f in status stat statm comm cgroup $rollup $extra; do
        note F "proc/$pid/$f" "$cp_dir/$f"
      done
      [ -n "$carried" ] || note F "proc/$pid/cmdline" "$cp_dir/cmdline"
      # No smaps_rollup on this kernel: the record says so, as a live read would find it.
      [ -n "$rollup" ] || grab "$d/smaps_rollup" "proc/$pid/smaps_rollup" F
    else
      [ -n "$carried" ] || grab "$d/cmdline" "proc/$pid/cmdline" F
      grab "$d/smaps_rollup" "proc/$pid/smaps_rollup" F
      for f in $extra; do grab "$d/$f" "proc/$pid/$f" F; done
    fi
    [ -n "$carried" ] || grab "$d/exe" "proc/$pid/exe" L
    batch=$((batch + 1))
    if [ -n "$big" ] || [ "$batch" -ge 10 ]; then
      flush || return 1
      batch=0
    fi
  done
  flush || return 1

  if [ "$every" -eq 0 ]; then meta end-time date -u +%Y-%m-%dT%H:%M:%SZ; fi
  flush || return 1
  printf 'end %s\n' "$records"
}

# meta KEY COMMAND...: a metadata record from a command's output; skipped (status 1) if the
# command fails.
meta() {
  key=$1
  shift
  i=$((i + 1))
  if "$@" > "c$i" 2>/dev/null; then
    printf 'M %s c%s\n' "$key" "$i" >> m
  else
    i=$((i - 1))
    return 1
  fi
}

# smaps_page_size: the base page size without getconf (BusyBox has none): the KernelPageSize of
# the first mapping of this shell, its program text, mapped with base pages (fs/proc/task_mmu.c
# prints it per VMA). Builtins only; fails without a readable smaps.
smaps_page_size() {
  # Names of its own: sh has only global variables, and meta's $key is in use meanwhile.
  while read -r ps_field ps_kib ps_unit; do
    if [ "$ps_field" = KernelPageSize: ] && [ "$ps_unit" = kB ]; then
      echo $((ps_kib * 1024))
      return 0
    fi
  done < /proc/$$/smaps
  return 1
}

# note KIND NAME PATH: a record whose payload is the scratch file PATH, in the manifest.
note() {
  i=$((i + 1))
  printf '%s %s %s\n' "$1" "$2" "$3" >> m
}

# copy_process DIR SLOT FILES...: a process's files (status, stat, statm, comm, cgroup, cmdline and
# FILES) copied with one cp into the scratch directory
# SLOT, instead of a command or a shell loop per file: on a board most of a round's CPU time is
# the commands it starts, and the shell's `read` takes one byte per system call (BusyBox ash,
# shell_builtin_read). Fails, leaving the caller to read file by file and record why, when a
# file cannot be copied or a text file comes back empty (the process went away between open and
# read; these files are never empty while it lives, fs/proc/array.c). On success, cp_dir is SLOT
# and cp_key the process's start time and name, as capture_round keys it; nothing is noted yet.
copy_process() {
  cp_dir=
  cp_key=
  cd_dir=$1
  cd_slot=$2
  shift 2
  set -- status stat statm comm cgroup cmdline "$@"
  cd_n=$#
  while [ "$cd_n" -gt 0 ]; do
    set -- "$@" "$cd_dir/$1"
    shift
    cd_n=$((cd_n - 1))
  done
  # -f: a copy of the round before is read-only (the /proc file's mode, 0444, under umask 077),
  # which only root may open for writing; -f removes it first.
  cp -f "$@" "$cd_slot/" 2> /dev/null || return 1
  for f in status stat statm comm cgroup; do
    [ -s "$cd_slot/$f" ] || return 1
  done
  start_time "$cd_slot/stat" || return 1
  read -r gt_line < "$cd_slot/comm" || return 1
  cp_key="$st_val $gt_line"
  cp_dir=$cd_slot
}

# grab SOURCE NAME KIND: copies a file (F) or a link target (L) into the scratch directory and
# notes it in the manifest; on failure notes an E record saying why.
grab() {
  i=$((i + 1))
  if [ "$3" = L ]; then
    readlink -v "$1" > "c$i" 2> e
    rc=$?
  else
    cat "$1" > "c$i" 2> e
    rc=$?
  fi
  if [ "$rc" -eq 0 ]; then
    printf '%s %s c%s\n' "$3" "$2" "$i" >> m
    return 0
  fi
  msg=
  read -r msg < e
  case $msg in
    *"ermission denied"* | *"not permitted"*) reason=permission ;;
    *"No such file"* | *"No such process"*) reason=missing ;;
    *)
      # An unrecognised message (a readlink without -v prints usage or nothing): a vanished
      # process reads as missing; otherwise the link shares the fate of the process's maps,
      # because both need the same ptrace access (fs/proc/base.c: proc_fd_access_allowed,
      # proc_mem_open).
      if [ ! -d "${1%/*}" ]; then
        reason=missing
      elif [ -n "$denied" ]; then
        reason=permission
      else
        reason=error
      fi
      ;;
  esac
  [ "$reason" = permission ] && denied=1
  printf '%s %s\n' "$reason" "$msg" > "c$i"
  printf 'E %s c%s\n' "$2" "$i" >> m
}

# start_time FILE: field 22 of a copied /proc/PID/stat, the start time in clock ticks since boot
# (fs/proc/array.c do_task_stat), in st_val; fails when the copy is not a stat line. The name may
# hold spaces and ") ", so the fields are counted after the last ") " of the last line.
start_time() {
  st_line=
  while IFS= read -r st_next; do st_line=$st_next; done < "$1"
  case $st_line in *") "*) ;; *) return 1 ;; esac
  st_fields ${st_line##*") "}
}

# st_fields STATE PPID ...: the 20th word after the name is field 22 of stat.
st_fields() {
  [ "$#" -ge 20 ] || return 1
  shift 19
  case $1 in '' | *[!0-9]*) return 1 ;; esac
  st_val=$1
}

# grab_text SOURCE NAME: a text file of a few lines copied by the shell itself (read and printf
# are builtins: no command is started). Every such /proc file ends in a newline and is never
# empty, so an empty copy (the process went away between open and read) is done again by grab,
# which records why it cannot be read.
grab_text() {
  i=$((i + 1))
  gt_ok=
  if { while IFS= read -r gt_line; do printf '%s\n' "$gt_line"; done < "$1"; } > "c$i" 2> /dev/null && [ -s "c$i" ]; then
    printf 'F %s c%s\n' "$2" "$i" >> m
    gt_ok=1
    return 0
  fi
  i=$((i - 1))
  grab "$1" "$2" F
}

# flush: writes every noted record (header, payload, newline) with one cat, then forgets them.
flush() {
  [ "$i" -gt 0 ] || return 0
  set --
  while read -r kind name path; do
    set -- "$@" "$path"
  done < m
  wc -c "$@" > s || return 1
  set --
  j=0
  while read -r kind name path && read -r size cname <&3; do
    j=$((j + 1))
    if [ "$cname" != "$path" ]; then
      echo "memlens capture: unexpected wc output '$size $cname'" >&2
      return 1
    fi
    printf '%s %s %s\n' "$kind" "$size" "$name" > "h$j"
    set -- "$@" "h$j" "$path" nl
  done < m 3< s
  cat "$@" || return 1
  records=$((records + i))
  i=0
  : > m
}

# Everything above is definitions; running it as the last line lets `ssh board sh` read the
# whole script before any command could consume the rest of it from the shared stdin.
capture_main "$@" < /dev/null
