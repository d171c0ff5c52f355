#!/bin/sh
# stap-runtime.sh KERNEL_RELEASE DIR: a copy of SystemTap's runtime in DIR that builds modules for
# KERNEL_RELEASE, for `stap -R DIR -r KERNEL_RELEASE ...`.
#
# SystemTap 4.8 (Debian 12) calls task_work_cancel(task, func); kernels that took the 2024
# task_work change (Linux 6.11, and the stable series since, Debian's 6.1.0-57 among them) call
# that task_work_cancel_func() and give task_work_cancel() another meaning, so the module does not
# compile. When the kernel's headers declare task_work_cancel_func and the runtime still looks up
# task_work_cancel, this applies stap-runtime-task-work.patch (beside this script) to the copy;
# otherwise the copy is the runtime as it is. The installed runtime is never changed.
#
#   sh tracing/stap-runtime.sh 6.1.0-57-amd64 /tmp/stap-runtime
#   stap -R /tmp/stap-runtime -r 6.1.0-57-amd64 -p4 -m memlens_stap tracing/memlens.stp
#
# The runtime copied is $SYSTEMTAP_RUNTIME (the variable stap itself reads) or
# /usr/share/systemtap/runtime. Prints what it did on stderr; exits 1 with one line on failure.
set -eu

fail() {
  echo "stap-runtime.sh: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || fail "usage: stap-runtime.sh KERNEL_RELEASE DIR"
release=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
patch_file="$here/stap-runtime-task-work.patch"
runtime=${SYSTEMTAP_RUNTIME:-/usr/share/systemtap/runtime}

[ -f "$runtime/stp_task_work.c" ] || fail "no SystemTap runtime at $runtime (install systemtap, or set SYSTEMTAP_RUNTIME)"
[ -f "$patch_file" ] || fail "missing $patch_file"

# Debian splits the headers: build/ holds the generated files, source/ (linux-headers-*-common)
# the kernel's own include/linux.
header=
for tree in "/lib/modules/$release/source" "/lib/modules/$release/build"; do
  if [ -f "$tree/include/linux/task_work.h" ]; then
    header="$tree/include/linux/task_work.h"
    break
  fi
done
[ -n "$header" ] || fail "no include/linux/task_work.h under /lib/modules/$release/{source,build} (install the kernel's headers: linux-headers-$release on Debian)"

if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  fail "$out exists and is not empty"
fi
mkdir -p "$out"
cp -R "$runtime/." "$out/"

if grep -q 'task_work_cancel_func' "$header" && grep -q 'kallsyms_lookup_name("task_work_cancel")' "$out/stp_task_work.c"; then
  patch -s -p1 -d "$out" <"$patch_file" || fail "the patch does not apply to $runtime/stp_task_work.c (another SystemTap version?)"
  echo "stap-runtime.sh: $out: the runtime of $runtime, patched for task_work_cancel_func ($header)" >&2
else
  echo "stap-runtime.sh: $out: the runtime of $runtime, unchanged (no patch needed for $release)" >&2
fi
