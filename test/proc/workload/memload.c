/*
 * A process tree with known memory, for the memlens tests:
 *   memload SHARED_MIB CHILDREN PRIVATE_MIB [extras] [name]
 * The parent maps SHARED_MIB of shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS) and writes
 * every page; then CHILDREN children each read every page of it (so each page is mapped by
 * CHILDREN + 1 processes) and write PRIVATE_MIB of their own private anonymous memory, named
 * "memlens-private" with PR_SET_VMA_ANON_NAME where the kernel allows it.
 * With extras = 1 the parent also maps and writes 1 MiB of a memfd ("memlens-memfd") and
 * 1 MiB of a SysV segment. With a name, the children call PR_SET_NAME with it.
 * It prints "ready PID PID ..." (parent first) once every page is touched, then waits until
 * stdin closes, and exits (children too).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/wait.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

#define MIB (1024UL * 1024UL)

static void touch_write(volatile char *p, size_t len, long page) {
  for (size_t i = 0; i < len; i += (size_t)page) p[i] = (char)(i / (size_t)page + 1);
}

static long touch_read(volatile char *p, size_t len, long page) {
  long s = 0;
  for (size_t i = 0; i < len; i += (size_t)page) s += p[i];
  return s;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: memload SHARED_MIB CHILDREN PRIVATE_MIB [extras] [name]\n");
    return 2;
  }
  size_t shared = (size_t)atol(argv[1]) * MIB;
  int children = atoi(argv[2]);
  size_t private_len = (size_t)atol(argv[3]) * MIB;
  int extras = argc > 4 ? atoi(argv[4]) : 0;
  const char *name = argc > 5 ? argv[5] : NULL;
  long page = sysconf(_SC_PAGESIZE);

  char *sh = NULL;
  if (shared > 0) {
    sh = mmap(NULL, shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) { perror("mmap shared"); return 1; }
    touch_write(sh, shared, page);
  }
  if (extras) {
    int fd = memfd_create("memlens-memfd", 0);
    if (fd < 0 || ftruncate(fd, (off_t)MIB) != 0) { perror("memfd"); return 1; }
    char *m = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { perror("mmap memfd"); return 1; }
    touch_write(m, MIB, page);
    int id = shmget(IPC_PRIVATE, MIB, IPC_CREAT | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    char *s = shmat(id, NULL, 0);
    if (s == (void *)-1) { perror("shmat"); return 1; }
    shmctl(id, IPC_RMID, NULL); /* freed when the last process detaches */
    touch_write(s, MIB, page);
  }

  int fds[2];
  if (pipe(fds) != 0) { perror("pipe"); return 1; }
  pid_t *pids = calloc((size_t)children + 1, sizeof(pid_t));
  for (int i = 0; i < children; i++) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
      close(fds[0]);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (name) prctl(PR_SET_NAME, name);
      if (sh) touch_read(sh, shared, page);
      if (private_len > 0) {
        char *p = mmap(NULL, private_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap private"); _exit(1); }
        prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, private_len, (unsigned long)"memlens-private");
        touch_write(p, private_len, page);
      }
      char c = 'r';
      if (write(fds[1], &c, 1) != 1) _exit(1);
      close(fds[1]);
      for (;;) pause();
    }
    pids[i + 1] = pid;
  }
  close(fds[1]);
  for (int i = 0; i < children; i++) {
    char c;
    if (read(fds[0], &c, 1) != 1) { fprintf(stderr, "child failed\n"); return 1; }
  }
  printf("ready %d", (int)getpid());
  for (int i = 0; i < children; i++) printf(" %d", (int)pids[i + 1]);
  printf("\n");
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {}
  for (int i = 0; i < children; i++) kill(pids[i + 1], SIGTERM);
  for (int i = 0; i < children; i++) waitpid(pids[i + 1], NULL, 0);
  return 0;
}
