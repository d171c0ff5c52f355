// /proc/PID/cmdline: the argument strings, each ended by NUL (fs/proc/base.c get_mm_cmdline).
// Empty for kernel threads and zombies. Processes that rewrite their argv (setproctitle) may
// leave one string with spaces and no NUL, or trailing NULs; both are kept as given.
// Bytes that are not UTF-8 become U+FFFD: names are for people, the pid identifies.

const decoder = new TextDecoder('utf-8', { fatal: false });

export function parseCmdline(bytes: Uint8Array): string[] {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return [];
  const args: string[] = [];
  let start = 0;
  for (let i = 0; i <= end; i++) {
    if (i === end || bytes[i] === 0) {
      args.push(decoder.decode(bytes.subarray(start, i)));
      start = i + 1;
    }
  }
  return args;
}
