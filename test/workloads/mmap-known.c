/*
 * A workload whose memory-mapping system calls are known exactly, for the tracing tests.
 *
 *   mmap-known EXEC_PATH     prints "ready <pid>", waits for a line on stdin, makes the calls below,
 *                            prints "done <pid> <worker tid> <child pid> <brk0>", waits for stdin to
 *                            close, and exits.
 *   (exec'd as EXEC_PATH child)  one mmap of 0x19000 bytes, then exit.
 *
 * Lengths are distinct so that the test can find each call among glibc's own.
 *
 * main thread (name "mmap-known"):
 *   mmap   0x5000  ok          -> a
 *   mmap   0x7000  ok          -> b
 *   mmap   0x9000  ok          -> c
 *   munmap a 0x5000 ok
 *   munmap c+0x2000 0x3000 ok   (partial: leaves c..c+0x2000 and c+0x5000..c+0x9000)
 *   mmap   0xb000  fd 12345 -> EBADF (failed, not memory)
 *   mremap b 0x7000 -> 0xd000 MREMAP_MAYMOVE ok (grows)
 *   mmap   c 0x1000 MAP_FIXED ok (replaces the first page of c)
 *   brk 0 -> brk0; brk brk0+0x21000 ok; brk brk0+0x1000 ok (shrinks); brk 1 fails (returns the break)
 * worker thread (name "mlworker", set with pthread_setname_np):
 *   mmap 0x13000 ok; munmap it 0x13000 ok
 * child (fork; renamed "mlforked" with prctl):
 *   mmap 0x17000 ok; then exec EXEC_PATH (comm becomes its basename), which maps 0x19000 and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *s) {
  if (write(1, s, strlen(s)) < 0) _exit(3);
}

static void wait_line(void) {
  char c;
  while (read(0, &c, 1) == 1 && c != '\n') {
  }
}

static long sys_brk(unsigned long to) { return syscall(SYS_brk, to); }

static volatile pid_t worker_tid;

static void *worker(void *arg) {
  (void)arg;
  worker_tid = (pid_t)syscall(SYS_gettid);
  /* Named before its calls, so every one of them carries the thread name. */
  if (pthread_setname_np(pthread_self(), "mlworker") != 0) _exit(21);
  void *p = mmap(NULL, 0x13000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) _exit(4);
  if (munmap(p, 0x13000) != 0) _exit(5);
  return NULL;
}

int main(int argc, char **argv) {
  char line[256];
  if (argc >= 2 && strcmp(argv[1], "child") == 0) {
    if (mmap(NULL, 0x19000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) return 6;
    return 0;
  }
  if (argc < 2) {
    say("usage: mmap-known EXEC_PATH\n");
    return 2;
  }
  /* glibc's malloc sets up its heap with brk on first use: do that now, before the known calls,
     so that pthread_create's allocation below needs no brk of its own. */
  free(malloc(64));
  snprintf(line, sizeof line, "ready %d\n", (int)getpid());
  say(line);
  wait_line();

  const int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
  char *a = mmap(NULL, 0x5000, rw, anon, -1, 0);
  char *b = mmap(NULL, 0x7000, rw, anon, -1, 0);
  char *c = mmap(NULL, 0x9000, rw, anon, -1, 0);
  if (a == MAP_FAILED || b == MAP_FAILED || c == MAP_FAILED) return 7;
  if (munmap(a, 0x5000) != 0) return 8;
  if (munmap(c + 0x2000, 0x3000) != 0) return 9;
  if (mmap(NULL, 0xb000, PROT_READ, MAP_PRIVATE, 12345, 0) != MAP_FAILED || errno != EBADF) return 10;
  if (mremap(b, 0x7000, 0xd000, MREMAP_MAYMOVE) == MAP_FAILED) return 11;
  if (mmap(c, 0x1000, rw, anon | MAP_FIXED, -1, 0) != c) return 12;
  long brk0 = sys_brk(0);
  if (sys_brk((unsigned long)brk0 + 0x21000) != brk0 + 0x21000) return 13;
  if (sys_brk((unsigned long)brk0 + 0x1000) != brk0 + 0x1000) return 14;
  if (sys_brk(1) != brk0 + 0x1000) return 15;

  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (pthread_create(&t, &attr, worker, NULL) != 0) return 16;
  pthread_join(t, NULL);

  pid_t child = fork();
  if (child < 0) return 17;
  if (child == 0) {
    prctl(PR_SET_NAME, "mlforked", 0, 0, 0);
    if (mmap(NULL, 0x17000, rw, anon, -1, 0) == MAP_FAILED) _exit(18);
    execl(argv[1], argv[1], "child", (char *)NULL);
    _exit(19);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 20;

  snprintf(line, sizeof line, "done %d %d %d %ld\n", (int)getpid(), (int)worker_tid, (int)child, brk0);
  say(line);
  wait_line();
  return 0;
}
