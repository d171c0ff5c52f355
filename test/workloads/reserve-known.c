/*
 * A workload that reserves address space the way V8 and Chromium do, with calls known exactly,
 * for the reserved/requested tests.
 *
 *   reserve-known   prints "ready <pid>", waits for a line on stdin, then makes exactly these
 *                   calls and no other memory call (output with write(2), no stdio, no malloc):
 *     mmap(NULL, 64 GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE) -> p
 *     mprotect(p + 16 MiB, 8 MiB, PROT_READ | PROT_WRITE), then writes every page of it
 *     mprotect(p + 22 MiB, 2 MiB, PROT_NONE)              (the last 2 MiB of the 8 go back)
 *   prints "done <pid> <p in hex>", waits for stdin to close, and exits.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)
#define GIB (1024UL * MIB)

static void say(const char *s) {
  if (write(1, s, strlen(s)) < 0) _exit(3);
}

static void wait_line(void) {
  char c;
  while (read(0, &c, 1) == 1 && c != '\n') {
  }
}

int main(void) {
  char line[64];
  snprintf(line, sizeof line, "ready %d\n", (int)getpid());
  say(line);
  wait_line();
  char *p = mmap(NULL, 64 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) _exit(4);
  if (mprotect(p + 16 * MIB, 8 * MIB, PROT_READ | PROT_WRITE) != 0) _exit(5);
  for (size_t i = 0; i < 8 * MIB; i += 4096) p[16 * MIB + i] = 1;
  if (mprotect(p + 22 * MIB, 2 * MIB, PROT_NONE) != 0) _exit(6);
  snprintf(line, sizeof line, "done %d %lx\n", (int)getpid(), (unsigned long)p);
  say(line);
  wait_line();
  return 0;
}
