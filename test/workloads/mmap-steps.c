/*
 * A workload that makes mmap+munmap pairs when told to, for the store fault tests.
 *
 *   mmap-steps      prints "ready <pid>"; for each line "N" on stdin makes N pairs of
 *                   mmap(4096) + munmap and prints "done <calls made so far>"; exits at EOF.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  long made = 0;
  char line[64];
  printf("ready %d\n", getpid());
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    long pairs = atol(line);
    for (long i = 0; i < pairs; i++) {
      void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return 1;
      munmap(p, 4096);
      made += 2;
    }
    printf("done %ld\n", made);
    fflush(stdout);
  }
  return 0;
}
