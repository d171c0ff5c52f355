// Benchmark workload: N pairs of mmap(4 KiB anonymous) + munmap, timed around the loop only.
// Prints "pid <pid> pairs <N> ns <elapsed>" on stdout.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  /* Dies with the harness that started it: a killed benchmark leaves no load behind on the machine. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    munmap(p, 4096);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
  printf("pid %d pairs %ld ns %lld\n", getpid(), n, ns);
  return 0;
}
