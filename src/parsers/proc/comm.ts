// /proc/PID/comm: the task name (at most TASK_COMM_LEN - 1 = 15 bytes) and a newline
// (fs/proc/base.c comm_show). Unlike the Name line of status it is not escaped, so it may
// hold any byte but NUL, a newline included.

const decoder = new TextDecoder('utf-8', { fatal: false });

export function parseComm(bytes: Uint8Array): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? bytes.length - 1 : bytes.length;
  return decoder.decode(bytes.subarray(0, end));
}
