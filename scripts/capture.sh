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
# Commands used besides shell builtins (all BusyBox applets): cat, wc, readlink, mkdir, rm,
# and optionally date, hostname, uname, id, getconf (their absence only drops metadata).
#
# Archive format, version 1 (parsed by src/parsers/archive.ts):
#   "memlens-capture 1\n"                          magic line
#   records, each:  "<kind> <length> <name>\n" <length bytes> "\n"
#   "end <number of records>\n"                    end marker: an archive without it is truncated
# <length> is decimal, the exact byte count of the payload; payloads may hold any bytes (NULs
# in cmdline), since each file is first copied to a temporary file and framed by the size of
# that copy: a /proc file that grows or shrinks between reads cannot desynchronise the stream.
# <name> is the path without the leading slash ("proc/meminfo", "proc/42/smaps", "etc/passwd")
# or a metadata key; it never holds spaces or newlines. Kinds:
#   F  file contents
#   L  symbolic link target as printed by readlink (the reader drops the final newline)
#   E  file that could not be read: "<reason> <message>\n", reason is permission, missing
#      or error (the message is the one the reading command printed)
#   M  metadata (time, epoch, pagesize, hostname, uname, uid, shell-pid, end-time),
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

  i=0
  records=0
  : > m
  printf 'memlens-capture 1\n'

  meta time date -u +%Y-%m-%dT%H:%M:%SZ
  meta epoch date +%s
  meta pagesize getconf PAGESIZE
  meta hostname hostname
  meta uname uname -a
  meta uid id -u
  i=$((i + 1))
  printf '%s\n' "$$" > "c$i"
  printf 'M shell-pid\n' >> m

  for f in meminfo vmstat slabinfo zoneinfo buddyinfo pagetypeinfo iomem swaps stat uptime loadavg version \
    config.gz sys/kernel/hostname sys/kernel/osrelease sys/kernel/pid_max; do
    grab "$P/$f" "proc/$f" F
  done
  if [ "${MEMLENS_CAPTURE_FRAMES:-no}" = yes ]; then
    # One at a time, each written out before the next: the scratch copy holds one file.
    for f in kpageflags kpagecount; do
      grab "$P/$f" "proc/$f" F
      flush || return 1
    done
  fi
  grab /etc/passwd etc/passwd F
  flush || return 1

  # With pids as arguments, only those processes; else all of them.
  if [ "$#" -eq 0 ]; then
    set -- "$P"/[0-9]*
  fi
  for d in "$@"; do
    pid=${d#"$P"/}
    case $pid in '' | *[!0-9]*) continue ;; esac
    d=$P/$pid
    denied=
    for f in status stat statm cmdline comm smaps_rollup maps cgroup; do
      grab "$d/$f" "proc/$pid/$f" F
    done
    # Without smaps_rollup (Linux before 4.14) smaps is the only source of PSS: always kept.
    if [ "${MEMLENS_CAPTURE_SMAPS:-yes}" != no ] || [ ! -r "$d/smaps_rollup" ]; then
      grab "$d/smaps" "proc/$pid/smaps" F
    fi
    grab "$d/exe" "proc/$pid/exe" L
    flush || return 1
  done

  meta end-time date -u +%Y-%m-%dT%H:%M:%SZ
  flush || return 1
  printf 'end %s\n' "$records"
}

# meta KEY COMMAND...: a metadata record from a command's output; skipped if the command fails.
meta() {
  key=$1
  shift
  i=$((i + 1))
  if "$@" > "c$i" 2>/dev/null; then
    printf 'M %s\n' "$key" >> m
  else
    i=$((i - 1))
  fi
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
    printf '%s %s\n' "$3" "$2" >> m
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
  printf 'E %s\n' "$2" >> m
}

# flush: writes every noted record (header, payload, newline) with one cat, then forgets them.
flush() {
  [ "$i" -gt 0 ] || return 0
  set --
  j=0
  while [ "$j" -lt "$i" ]; do
    j=$((j + 1))
    set -- "$@" "c$j"
  done
  wc -c "$@" > s || return 1
  set --
  j=0
  while read -r kind name && read -r size cname <&3; do
    j=$((j + 1))
    if [ "$cname" != "c$j" ]; then
      echo "memlens capture: unexpected wc output '$size $cname'" >&2
      return 1
    fi
    printf '%s %s %s\n' "$kind" "$size" "$name" > "h$j"
    set -- "$@" "h$j" "c$j" nl
  done < m 3< s
  cat "$@" || return 1
  records=$((records + i))
  i=0
  : > m
}

# Everything above is definitions; running it as the last line lets `ssh board sh` read the
# whole script before any command could consume the rest of it from the shared stdin.
capture_main "$@" < /dev/null
