/* A process whose writes are known exactly, for the dirty-pages tests and benchmark.
 *
 *   workload PAGES once                 map PAGES anonymous pages (no huge pages), touch them all,
 *                                       print "READY <hex address> <pages> <page size>", then obey
 *                                       stdin lines: "w FIRST COUNT STEP" writes pages FIRST,
 *                                       FIRST+STEP, … (COUNT of them) and prints "OK"; "m N" maps a
 *                                       new area of N pages, touches them all and prints
 *                                       "OK <hex address>"; "b N" grows the heap by N pages with
 *                                       sbrk, touches them and prints "OK <hex old break>";
 *                                       "h N" maps N pages aligned to 2 MiB with MADV_HUGEPAGE,
 *                                       touches them and prints "OK <hex address>"; "x ADDR" writes
 *                                       one byte at hex address ADDR and prints "OK"; "q" exits.
 *   workload PAGES fixed FIRST COUNT STEP PERIOD_MS
 *                                       after READY, writes that same set every PERIOD_MS.
 *   workload PAGES grow PER_TICK PERIOD_MS
 *                                       after READY, tick k writes pages [0, k*PER_TICK): a set
 *                                       that keeps growing.
 *   workload PAGES exit-after MS        after READY, exits after MS milliseconds.
 *   workload PAGES loop FIRST COUNT STEP PERIOD_MS
 *                                       after READY, writes that set every PERIOD_MS on its own,
 *                                       whoever drives it; a stdin line "w FIRST COUNT STEP"
 *                                       replaces the set from the next write on and prints "OK";
 *                                       "m N" maps and touches N new pages, as in "once".
 * The looping modes end when stdin closes. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char *area;
static long page_size, pages;

static void write_pages(long first, long count, long step, unsigned char value) {
  for (long i = 0; i < count; i++) {
    long p = first + i * step;
    if (p >= 0 && p < pages) area[p * page_size + (p % 64)] = value;
  }
}

/* Maps n fresh anonymous pages, touches them all and prints "OK <address>"; 0 on failure. */
static int map_fresh(long n) {
  unsigned char *fresh = mmap(NULL, (size_t)(n * page_size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fresh == MAP_FAILED) {
    perror("mmap");
    return 0;
  }
  for (long p = 0; p < n; p++) fresh[p * page_size] = 5;
  printf("OK %lx\n", (unsigned long)fresh);
  fflush(stdout);
  return 1;
}

/* Waits up to ms for stdin; returns 1 when stdin has data or closed. */
static int stdin_ready(int ms) {
  struct pollfd fd = {.fd = 0, .events = POLLIN};
  return poll(&fd, 1, ms) > 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: workload PAGES once|fixed|grow|exit-after ...\n");
    return 2;
  }
  page_size = sysconf(_SC_PAGESIZE);
  pages = atol(argv[1]);
  area = mmap(NULL, (size_t)(pages * page_size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  /* One write marks a whole 2 MiB page under THP: keep 4 KiB pages for exact answers. */
  madvise(area, (size_t)(pages * page_size), MADV_NOHUGEPAGE);
  write_pages(0, pages, 1, 1);
  printf("READY %lx %ld %ld\n", (unsigned long)area, pages, page_size);
  fflush(stdout);
  const char *mode = argv[2];
  if (strcmp(mode, "once") == 0) {
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
      long first, count, step;
      if (line[0] == 'q') break;
      long n;
      unsigned long at;
      if (sscanf(line, "x %lx", &at) == 1) {
        *(volatile unsigned char *)at = 8;
        printf("OK\n");
        fflush(stdout);
      } else if (sscanf(line, "h %ld", &n) == 1) {
        size_t huge = 2u << 20, len = (size_t)(n * page_size);
        unsigned char *raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) {
          perror("mmap");
          return 1;
        }
        unsigned char *aligned = (unsigned char *)(((unsigned long)raw + huge - 1) & ~(unsigned long)(huge - 1));
        madvise(aligned, len, MADV_HUGEPAGE);
        for (long p = 0; p < n; p++) aligned[p * page_size] = 7;
        printf("OK %lx\n", (unsigned long)aligned);
        fflush(stdout);
      } else if (sscanf(line, "b %ld", &n) == 1) {
        unsigned char *old = sbrk(n * page_size);
        if (old == (void *)-1) {
          perror("sbrk");
          return 1;
        }
        for (long p = 0; p < n; p++) old[p * page_size] = 6;
        printf("OK %lx\n", (unsigned long)old);
        fflush(stdout);
      } else if (sscanf(line, "m %ld", &n) == 1) {
        if (!map_fresh(n)) return 1;
      } else if (sscanf(line, "w %ld %ld %ld", &first, &count, &step) == 3) {
        write_pages(first, count, step, 2);
        printf("OK\n");
        fflush(stdout);
      }
    }
    return 0;
  }
  if (strcmp(mode, "fixed") == 0 && argc >= 7) {
    long first = atol(argv[3]), count = atol(argv[4]), step = atol(argv[5]);
    int period = atoi(argv[6]);
    unsigned char v = 3;
    do write_pages(first, count, step, v++);
    while (!stdin_ready(period));
    return 0;
  }
  if (strcmp(mode, "grow") == 0 && argc >= 5) {
    long per_tick = atol(argv[3]);
    int period = atoi(argv[4]);
    unsigned char v = 3;
    for (long k = 1;; k++) {
      write_pages(0, k * per_tick, 1, v++);
      if (stdin_ready(period)) break;
    }
    return 0;
  }
  if (strcmp(mode, "loop") == 0 && argc >= 7) {
    long first = atol(argv[3]), count = atol(argv[4]), step = atol(argv[5]);
    int period = atoi(argv[6]);
    unsigned char v = 3;
    char buf[256];
    size_t have = 0;
    for (;;) {
      write_pages(first, count, step, v++);
      if (!stdin_ready(period)) continue;
      /* Plain read(2): stdio would buffer lines that poll(2) then no longer reports. */
      ssize_t n = read(0, buf + have, sizeof buf - 1 - have);
      if (n <= 0) return 0;
      have += (size_t)n;
      buf[have] = '\0';
      char *nl;
      while ((nl = strchr(buf, '\n')) != NULL) {
        *nl = '\0';
        long f, c, s, n;
        if (sscanf(buf, "w %ld %ld %ld", &f, &c, &s) == 3) {
          first = f;
          count = c;
          step = s;
          printf("OK\n");
          fflush(stdout);
        } else if (sscanf(buf, "m %ld", &n) == 1) {
          if (!map_fresh(n)) return 1;
        }
        have -= (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, have + 1);
      }
      if (have == sizeof buf - 1) have = 0; /* a line too long to be a command */
    }
  }
  if (strcmp(mode, "exit-after") == 0 && argc >= 4) {
    stdin_ready(atoi(argv[3]));
    return 0;
  }
  fprintf(stderr, "workload: bad mode\n");
  return 2;
}
