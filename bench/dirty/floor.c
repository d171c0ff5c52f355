/* The floor of the pagemap scan benchmark: read /proc/PID/pagemap over the same areas memlens
 * scans (those of /proc/PID/maps, minus PROT_NONE and [vsyscall]) and do nothing with the data.
 *
 *   floor PID big    one pread per area, in windows of up to 2 MiB of entries (as memlens)
 *   floor PID page   one 8-byte pread per page (as the classic exercise does)
 *
 * Prints "pages=N reads=N seconds=S". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WINDOW (2u << 20)

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: floor PID big|page\n");
    return 2;
  }
  int per_page = strcmp(argv[2], "page") == 0;
  long page_size = sysconf(_SC_PAGESIZE);
  char path[64];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  snprintf(path, sizeof path, "/proc/%s/maps", argv[1]);
  FILE *maps = fopen(path, "r");
  snprintf(path, sizeof path, "/proc/%s/pagemap", argv[1]);
  int fd = open(path, O_RDONLY);
  if (!maps || fd < 0) {
    perror(path);
    return 1;
  }
  static unsigned char buf[WINDOW];
  unsigned long long pages = 0, reads = 0, sink = 0;
  char line[4096];
  while (fgets(line, sizeof line, maps)) {
    unsigned long start, end;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3) continue;
    if (strncmp(perms, "---", 3) == 0 || strstr(line, "[vsyscall]")) continue;
    off_t off = (off_t)(start / page_size) * 8;
    size_t left = (end - start) / page_size * 8;
    while (left > 0) {
      size_t want = per_page ? 8 : (left < WINDOW ? left : WINDOW);
      ssize_t got = pread(fd, buf, want, off);
      reads++;
      if (got <= 0) break;
      sink += buf[got - 1];
      pages += (unsigned long long)got / 8;
      off += got;
      left -= (size_t)got;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("pages=%llu reads=%llu seconds=%.6f sink=%llu\n", pages, reads, s, sink & 1);
  return 0;
}
