/* A process with exactly known memory requests, for the dashboard tests.
 * Sets its name (comm) to NAME with prctl(PR_SET_NAME) (exec -a does not change comm), prints
 * "ready" once its memory is in place, and waits until its stdin closes. Modes:
 *   workload NAME GIB COUNT UNMAP [ignored arguments...]
 *     maps COUNT regions of GIB GiB (PROT_NONE + MAP_NORESERVE: address space only, no memory
 *     used) and unmaps UNMAP of them.
 *   workload NAME reserve GIB MIB
 *     reserves GIB GiB with PROT_NONE, makes its first MIB MiB readable and writable with
 *     mprotect and writes every page of them: GIB GiB of address space, MIB MiB of memory.
 *   workload NAME grow MIB MS
 *     every MS milliseconds maps MIB MiB more and writes every page: its memory grows steadily,
 *     up to 1 GiB.
 *   workload NAME map GIB MIB
 *     maps GIB GiB readable and writable (MAP_NORESERVE) and writes its first MIB MiB: GIB GiB
 *     requested (accessible), MIB MiB of memory. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static void touch(char *p, size_t len) {
  for (size_t i = 0; i < len; i += 4096) p[i] = 1;
}

static void ready(void) {
  printf("ready\n");
  fflush(stdout);
}

static void wait_stdin(void) {
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {}
}

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  if (prctl(PR_SET_NAME, argv[1], 0, 0, 0) != 0) return 3;
  if (strcmp(argv[2], "reserve") == 0) {
    size_t len = (size_t)strtoull(argv[3], NULL, 10) << 30, used = (size_t)strtoull(argv[4], NULL, 10) << 20;
    char *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED || used > len) return 4;
    if (mprotect(p, used, PROT_READ | PROT_WRITE) != 0) return 5;
    touch(p, used);
    ready();
    wait_stdin();
    return 0;
  }
  if (strcmp(argv[2], "grow") == 0) {
    size_t step = (size_t)strtoull(argv[3], NULL, 10) << 20;
    int ms = atoi(argv[4]);
    size_t total = 0;
    for (int first = 1;; first = 0) {
      if (total + step <= ((size_t)1 << 30)) {
        char *p = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 4;
        touch(p, step);
        total += step;
      }
      if (first) ready();
      struct pollfd in = {.fd = 0, .events = POLLIN};
      int r = poll(&in, 1, ms);
      if (r < 0) return 6;
      if (r > 0) {
        char buf[64];
        if (read(0, buf, sizeof buf) <= 0) return 0;
      }
    }
  }
  if (strcmp(argv[2], "map") == 0) {
    size_t len = (size_t)strtoull(argv[3], NULL, 10) << 30, used = (size_t)strtoull(argv[4], NULL, 10) << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED || used > len) return 4;
    touch(p, used);
    ready();
    wait_stdin();
    return 0;
  }
  size_t len = (size_t)strtoull(argv[2], NULL, 10) << 30;
  int count = atoi(argv[3]), unmap = atoi(argv[4]);
  void *maps[64];
  if (count > 64) return 2;
  for (int i = 0; i < count; i++) {
    maps[i] = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (maps[i] == MAP_FAILED) return 4;
  }
  for (int i = 0; i < unmap && i < count; i++) munmap(maps[i], len);
  ready();
  wait_stdin();
  return 0;
}
