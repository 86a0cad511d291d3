/*
 * The fuzz driver: `harness` runs one session on stdin, its answers unbuffered (so a test can
 * talk to it line by line); `harness DIR N` runs N sessions,
 * case k reading DIR/k.in and writing DIR/k.out and DIR/k.err (where a sanitizer reports),
 * each in a forked child so no state carries over, killed after 10 s (a hang is a failure too).
 * It prints "k status" per case: the exit code, or 128 + the signal that ended the child.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

static void redirect(const char *dir, long k, const char *ext, int fd, int flags) {
  char path[4096];
  int f;
  snprintf(path, sizeof path, "%s/%ld.%s", dir, k, ext);
  if ((f = open(path, flags, 0644)) < 0 || dup2(f, fd) < 0) {
    perror(path);
    _exit(125);
  }
  close(f);
}

int main(int argc, char **argv) {
  long k, n;
  if (argc == 1) {
    setvbuf(stdout, NULL, _IONBF, 0);
    return fuzz_session();
  }
  if (argc != 3 || (n = strtol(argv[2], NULL, 10)) < 0) {
    fprintf(stderr, "usage: %s [DIR N]\n", argv[0]);
    return 2;
  }
  for (k = 0; k < n; ++k) {
    int status = 0;
    pid_t pid;
    fflush(stdout); /* nothing buffered may be written twice by the child */
    if ((pid = fork()) < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      int rc;
      redirect(argv[1], k, "in", 0, O_RDONLY);
      redirect(argv[1], k, "out", 1, O_WRONLY | O_CREAT | O_TRUNC);
      redirect(argv[1], k, "err", 2, O_WRONLY | O_CREAT | O_TRUNC);
      alarm(10);
      rc = fuzz_session();
      exit(rc);
    }
    if (waitpid(pid, &status, 0) < 0) {
      perror("waitpid");
      return 1;
    }
    printf("%ld %d\n", k, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return 0;
}
