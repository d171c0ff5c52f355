/*
 * A reproducible population of processes with known memory, for the snapshot benchmark and the
 * capture tests:  workload CHILDREN PRIVATE_KIB SHARED_KIB [VMAS]
 *
 * The parent maps SHARED_KIB of shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, i.e. shmem)
 * and writes every page. Each of CHILDREN children then writes PRIVATE_KIB of its own private
 * anonymous memory and reads every page of the shared region, so that the shared pages are
 * mapped in every child (fork does not copy the page-table entries of shared mappings:
 * mm/memory.c, copy_page_range / vma_needs_copy). The parent prints each child's pid on its own
 * line, then "ready", and waits until its standard input closes; it then kills the children.
 * Children also die with the parent (PR_SET_PDEATHSIG), so none outlive an aborted run.
 * With VMAS, each child's private region is split into that many mappings by making every
 * other piece read-only (mprotect splits a VMA: mm/mprotect.c), as a program with many
 * libraries and arenas has hundreds of mappings: smaps then has one block per mapping, while
 * smaps_rollup stays one block.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: workload CHILDREN PRIVATE_KIB SHARED_KIB [VMAS]\n");
    return 2;
  }
  long children = atol(argv[1]);
  size_t private_bytes = (size_t)atol(argv[2]) * 1024;
  size_t shared_bytes = (size_t)atol(argv[3]) * 1024;
  long page = sysconf(_SC_PAGESIZE);
  long vmas = argc == 5 ? atol(argv[4]) : 1;
  size_t private_pages = private_bytes / (size_t)page;
  if (vmas < 1 || (vmas > 1 && (size_t)vmas > private_pages)) {
    fprintf(stderr, "workload: VMAS must be between 1 and the number of private pages\n");
    return 2;
  }

  unsigned char *shared = NULL;
  if (shared_bytes > 0) {
    shared = mmap(NULL, shared_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) die("mmap shared");
    memset(shared, 0x5a, shared_bytes);
  }

  int ready[2];
  if (pipe(ready) != 0) die("pipe");
  pid_t *pids = calloc((size_t)children, sizeof(pid_t));
  if (!pids) die("calloc");
  pid_t parent = getpid();

  for (long k = 0; k < children; k++) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      close(ready[0]);
      if (private_bytes > 0) {
        unsigned char *mine = mmap(NULL, private_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mine == MAP_FAILED) _exit(1);
        memset(mine, (int)(k & 0xff) | 1, private_bytes);
        size_t piece = private_pages / (size_t)vmas * (size_t)page;
        for (long v = 1; v < vmas; v += 2)
          if (mprotect(mine + (size_t)v * piece, piece, PROT_READ) != 0) _exit(1);
      }
      volatile unsigned sum = 0;
      for (size_t at = 0; at < shared_bytes; at += (size_t)page) sum += shared[at];
      (void)sum;
      if (write(ready[1], "r", 1) != 1) _exit(1);
      close(ready[1]);
      for (;;) pause();
    }
    pids[k] = pid;
  }
  close(ready[1]);
  for (long got = 0; got < children;) {
    char buf[256];
    ssize_t n = read(ready[0], buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      fprintf(stderr, "workload: a child failed to start\n");
      for (long k = 0; k < children; k++) kill(pids[k], SIGKILL);
      return 1;
    }
    got += n;
  }
  for (long k = 0; k < children; k++) printf("%d\n", (int)pids[k]);
  printf("ready\n");
  fflush(stdout);

  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  for (long k = 0; k < children; k++) kill(pids[k], SIGKILL);
  for (long k = 0; k < children; k++) waitpid(pids[k], NULL, 0);
  return 0;
}
