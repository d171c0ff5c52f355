/* Load generator for the serve benchmarks.
 * usage: load RATE SECONDS
 * Makes RATE system calls a second (mmap + munmap of one page, paced every 10 ms) for SECONDS, and
 * ten times a second a probe: an mremap of a region of k MiB (k = 1, 2, …), printing
 * "probe k <wall-clock ms just before the call>" so the time to its row on the page can be measured. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

static double now_ms(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  /* Dies with the harness that started it: a killed benchmark leaves no load behind on the machine. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  double rate = atof(argv[1]), seconds = atof(argv[2]);
  double start = now_ms(CLOCK_MONOTONIC), next_probe = start + 100;
  long done = 0;
  int k = 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (now_ms(CLOCK_MONOTONIC) - start < seconds * 1000) {
    double elapsed = now_ms(CLOCK_MONOTONIC) - start;
    long due = (long)(elapsed / 1000 * rate);
    /* At most 2,000 calls between clock reads: a rate the machine cannot reach still ends on time. */
    for (long batch = 0; done < due && batch < 2000; batch += 2) {
      void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) munmap(p, 4096);
      done += 2;
    }
    if (now_ms(CLOCK_MONOTONIC) >= next_probe && k < 1000) {
      size_t len = (size_t)k << 20;
      void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      double t = now_ms(CLOCK_REALTIME);
      void *q = mremap(p, len, len + 4096, MREMAP_MAYMOVE);
      munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? len : len + 4096);
      printf("probe %d %.3f\n", k, t);
      k++;
      next_probe += 100;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    if (done >= due) nanosleep(&ts, NULL);
  }
  printf("done %ld\n", done);
  return 0;
}
