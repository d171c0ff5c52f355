// Throughput workload: mmap+munmap pairs at a steady rate of R calls per second for S seconds
// (R/2 pairs per second), paced in 1 ms slices against CLOCK_MONOTONIC. Prints
// "pid <pid> calls <made> seconds <elapsed>" on stdout; calls made may fall short of R*S when
// the machine cannot keep up, which the harness reports.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  /* Dies with the harness that started it: a killed benchmark leaves no load behind on the machine. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  double rate = argc > 1 ? atof(argv[1]) : 100000;
  double seconds = argc > 2 ? atof(argv[2]) : 60;
  double start = now();
  long made = 0;
  for (;;) {
    double t = now() - start;
    if (t >= seconds) break;
    long due = (long)(t * rate);
    /* The clock is read again at least every 2,000 calls, so a rate the machine cannot reach still
     * ends after S seconds instead of chasing its backlog forever. */
    for (long batch = 0; made < due && batch < 2000; batch += 2) {
      void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return 1;
      munmap(p, 4096);
      made += 2;
    }
    if (made >= due) usleep(1000);
  }
  printf("pid %d calls %ld seconds %.3f\n", getpid(), made, now() - start);
  return 0;
}
