/* A process with exactly known resident memory and system calls on demand, for the Prometheus test.
 * usage: resident-workload NAME MIB
 * Sets its name (comm) to NAME with prctl(PR_SET_NAME), maps MIB MiB of private anonymous memory
 * and writes every page of it (so all of it is resident), prints "ready", then for each line
 * "calls N" on stdin makes N pairs of mmap and munmap of one page and prints "done N"; it exits
 * when stdin closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  if (prctl(PR_SET_NAME, argv[1], 0, 0, 0) != 0) return 3;
  size_t len = (size_t)strtoull(argv[2], NULL, 10) << 20;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 4;
  memset(p, 0xa5, len);
  long page = sysconf(_SC_PAGESIZE);
  printf("ready\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
    long n;
    if (sscanf(line, "calls %ld", &n) != 1 || n < 0) return 5;
    for (long i = 0; i < n; i++) {
      void *q = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (q == MAP_FAILED) return 6;
      if (munmap(q, (size_t)page) != 0) return 7;
    }
    printf("done %ld\n", n);
    fflush(stdout);
  }
  return 0;
}
