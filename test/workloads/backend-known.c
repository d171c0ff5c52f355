// A workload whose memory-mapping calls are known exactly, for the tracing backend tests.
// Between two marker calls, munmap(MARK_BEGIN, 0) and munmap(MARK_END, 0) (both fail with
// EINVAL, so they change nothing), it makes, in this order:
//   main thread:  mmap 40960 -> A; mmap 81920 -> B; mmap 16384 -> C; munmap(C + 4096, 4096);
//                 mmap(12288, MAP_PRIVATE, fd -1) -> EBADF; mremap(B, 81920, 163840, MAYMOVE) -> M;
//                 munmap(A, 40960); brk(0) -> K; brk(K + 65536); brk(K)
//   worker thread: mmap 28672 -> D; munmap(D, 28672)
//   child process: mmap 57344 -> E, then exits
// The process is renamed 'wl "q" (é)' and the worker 'wk \ ñ' before the first marker: names
// with spaces, quotes, parentheses, a backslash and UTF-8. At the end it prints what it got, one
// "key value" per line (pid, worker, child, mark_begin, mark_end, a, b, c, m, k, d, e).
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARK_BEGIN ((void *)0x6d656d6c0000UL)
#define MARK_END ((void *)0x6d656d6c1000UL)

static int to_worker[2], from_worker[2];
static void *worker_d;
static pid_t worker_tid;

static void *map(size_t len) {
  return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void *worker(void *arg) {
  (void)arg;
  char c;
  pthread_setname_np(pthread_self(), "wk \\ \xc3\xb1");
  worker_tid = (pid_t)syscall(SYS_gettid);
  if (write(from_worker[1], "r", 1) != 1) abort();
  if (read(to_worker[0], &c, 1) != 1) abort();
  worker_d = map(28672);
  munmap(worker_d, 28672);
  if (write(from_worker[1], "d", 1) != 1) abort();
  return NULL;
}

int main(void) {
  char c;
  int child_pipe[2];
  pthread_t t;
  if (pipe(to_worker) || pipe(from_worker) || pipe(child_pipe)) return 1;
  prctl(PR_SET_NAME, "wl \"q\" (\xc3\xa9)");
  if (pthread_create(&t, NULL, worker, NULL)) return 1;
  if (read(from_worker[0], &c, 1) != 1) return 1;

  munmap(MARK_BEGIN, 0);
  void *a = map(40960);
  void *b = map(81920);
  char *cc = map(16384);
  munmap(cc + 4096, 4096);
  void *bad = mmap(NULL, 12288, PROT_READ, MAP_PRIVATE, -1, 0);
  if (bad != MAP_FAILED) return 1;
  void *m = mremap(b, 81920, 163840, MREMAP_MAYMOVE);
  munmap(a, 40960);
  uintptr_t k = (uintptr_t)syscall(SYS_brk, 0);
  syscall(SYS_brk, k + 65536);
  syscall(SYS_brk, k);

  if (write(to_worker[1], "g", 1) != 1) return 1;
  if (read(from_worker[0], &c, 1) != 1) return 1;

  pid_t child = fork();
  if (child == 0) {
    void *e = map(57344);
    if (write(child_pipe[1], &e, sizeof e) != sizeof e) _exit(1);
    _exit(0);
  }
  int status;
  waitpid(child, &status, 0);
  void *e = NULL;
  if (read(child_pipe[0], &e, sizeof e) != sizeof e) return 1;
  munmap(MARK_END, 0);

  pthread_join(t, NULL);
  printf("pid %d\nworker %d\nchild %d\nmark_begin %p\nmark_end %p\n", getpid(), worker_tid, child, MARK_BEGIN, MARK_END);
  printf("a %p\nb %p\nc %p\nm %p\nk %#lx\nd %p\ne %p\n", a, b, (void *)cc, m, (unsigned long)k, worker_d, e);
  return 0;
}
