/*
 * The floor of the snapshot benchmark: a plain read of every /proc/PID/smaps_rollup, nothing
 * parsed. Whatever memlens spends beyond this is its own cost; the kernel's page-table walk
 * behind smaps_rollup (fs/proc/task_mmu.c, show_smaps_rollup) is paid by every tool alike.
 * Prints the number of files read and bytes, so the run can be checked.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  DIR *proc = opendir("/proc");
  if (!proc) {
    perror("/proc");
    return 1;
  }
  static char buf[1 << 16];
  long files = 0, bytes = 0;
  struct dirent *d;
  while ((d = readdir(proc)) != NULL) {
    if (!isdigit((unsigned char)d->d_name[0])) continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/smaps_rollup", d->d_name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) bytes += n;
    close(fd);
    files++;
  }
  closedir(proc);
  fprintf(stderr, "%ld files, %ld bytes\n", files, bytes);
  return 0;
}
