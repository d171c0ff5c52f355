/* A process with exactly known memory requests, for the dashboard tests.
 * usage: workload NAME GIB COUNT UNMAP [ignored arguments...]
 * Sets its name (comm) to NAME with prctl(PR_SET_NAME) (exec -a does not change comm), then maps
 * COUNT regions of GIB GiB (PROT_NONE + MAP_NORESERVE: address space only, no memory used),
 * unmaps UNMAP of them, prints "ready" and waits until its stdin closes. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  if (prctl(PR_SET_NAME, argv[1], 0, 0, 0) != 0) return 3;
  size_t len = (size_t)strtoull(argv[2], NULL, 10) << 30;
  int count = atoi(argv[3]), unmap = atoi(argv[4]);
  void *maps[64];
  if (count > 64) return 2;
  for (int i = 0; i < count; i++) {
    maps[i] = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (maps[i] == MAP_FAILED) return 4;
  }
  for (int i = 0; i < unmap && i < count; i++) munmap(maps[i], len);
  printf("ready\n");
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}
