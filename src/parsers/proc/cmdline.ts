// /proc/PID/cmdline: the argument strings, each ended by NUL (fs/proc/base.c get_mm_cmdline).
// Empty for kernel threads and zombies. Processes that rewrite their argv (setproctitle) may
// leave one string with spaces and no NUL, or trailing NULs; both are kept as given.
// Bytes that are not UTF-8 become U+FFFD: names are for people, the pid identifies.

const decoder = new TextDecoder('utf-8', { fatal: false });

export function parseCmdline(bytes: Uint8Array): string[] {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return [];
  // One decoding of all the arguments, split at the NULs: in a short-lived snapshot this code
  // runs mostly in V8's interpreter, where a decoder call per argument or a loop over the bytes
  // costs several times more. It decodes as argument by argument does: NUL is one byte that
  // never belongs to a UTF-8 sequence, so a sequence cut short by it becomes one U+FFFD either
  // way (WHATWG Encoding, "UTF-8 decoder"). The one difference, a byte order mark at the start of
  // an argument other than the first (dropped by the decoder at the start of each text), sends
  // arguments with 0xEF bytes to the decoding one by one.
  if (bytes.indexOf(0xef) < 0 || bytes.indexOf(0xef) >= end) return decoder.decode(bytes.subarray(0, end)).split('\0');
  const args: string[] = [];
  let start = 0;
  for (;;) {
    let nul = bytes.indexOf(0, start);
    if (nul < 0 || nul > end) nul = end;
    args.push(decoder.decode(bytes.subarray(start, nul)));
    if (nul === end) return args;
    start = nul + 1;
  }
}
