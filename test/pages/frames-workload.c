/*
 * A process whose page frames are known, for the `memlens pages` live test:
 *   frames-workload ANON_MIB SHM_MIB FILE_MIB FILE_PATH
 * It writes every page of ANON_MIB of private anonymous memory (MADV_NOHUGEPAGE, so the pages are
 * small and read ANON without THP), SHM_MIB of a memfd mapped shared (shmem), and FILE_MIB of
 * FILE_PATH, which it then maps shared read-only and reads page by page (file cache, mapped).
 * Each page gets a distinct word so that KSM could never merge them. It prints
 *   anon ADDR / shm ADDR / file ADDR   (hex), then "READY", and waits until stdin closes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: frames-workload ANON_MIB SHM_MIB FILE_MIB FILE_PATH\n");
    return 2;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t anon = (size_t)atol(argv[1]) << 20, shm = (size_t)atol(argv[2]) << 20, file = (size_t)atol(argv[3]) << 20;

  char *a = mmap(NULL, anon, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) die("mmap anon");
  if (madvise(a, anon, MADV_NOHUGEPAGE) != 0) die("madvise");
  for (size_t i = 0; i < anon; i += page) *(size_t *)(a + i) = i + 1;

  int mfd = memfd_create("memlens-frames", 0);
  if (mfd < 0) die("memfd_create");
  if (ftruncate(mfd, (off_t)shm) != 0) die("ftruncate");
  char *s = mmap(NULL, shm, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (s == MAP_FAILED) die("mmap shm");
  for (size_t i = 0; i < shm; i += page) *(size_t *)(s + i) = i + 1;

  int fd = open(argv[4], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die("open file");
  char *buf = malloc(1 << 20);
  if (!buf) die("malloc");
  for (size_t off = 0; off < file; off += 1 << 20) {
    for (size_t i = 0; i < (1 << 20); i += page) *(size_t *)(buf + i) = off + i + 1;
    if (write(fd, buf, 1 << 20) != (1 << 20)) die("write");
  }
  /* Written back, so that the pages are clean, mapped file cache (not dirty) when counted. */
  if (fsync(fd) != 0) die("fsync");
  char *f = mmap(NULL, file, PROT_READ, MAP_SHARED, fd, 0);
  if (f == MAP_FAILED) die("mmap file");
  volatile size_t sum = 0;
  for (size_t i = 0; i < file; i += page) sum += *(size_t *)(f + i);

  printf("anon %lx\nshm %lx\nfile %lx\nREADY\n", (unsigned long)a, (unsigned long)s, (unsigned long)f);
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  unlink(argv[4]);
  return 0;
}
