/* A deliberately slow disk and resolver for outreachd's tests, loaded with LD_PRELOAD:
 *   SLOW_FSYNC_DIR=/path SLOW_FSYNC_SECONDS=N [SLOW_FSYNC_TIMES=1]
 *       fsync()/fdatasync() of a file under /path sleeps N seconds (the first TIMES calls);
 *   SLOW_DNS_SUFFIX=.slow.invalid SLOW_DNS_SECONDS=N
 *       getaddrinfo() of a name ending in the suffix sleeps N seconds, then answers 127.0.0.1.
 * Built by the tests that use it (cc -shared -fPIC); nothing else changes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int env_int(const char *name, int fallback) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : fallback;
}

static int slow_fsync_calls;

static void maybe_sleep_fsync(int fd) {
  const char *dir = getenv("SLOW_FSYNC_DIR");
  char link[64], path[PATH_MAX];
  ssize_t n;
  if (!dir || !*dir) return;
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = 0;
  if (strncmp(path, dir, strlen(dir)) != 0) return;
  if (__atomic_fetch_add(&slow_fsync_calls, 1, __ATOMIC_SEQ_CST) >= env_int("SLOW_FSYNC_TIMES", 1)) return;
  fprintf(stderr, "slow_io: fsync of %s sleeps %d s\n", path, env_int("SLOW_FSYNC_SECONDS", 10));
  sleep((unsigned)env_int("SLOW_FSYNC_SECONDS", 10));
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  maybe_sleep_fsync(fd);
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  maybe_sleep_fsync(fd);
  return real(fd);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  const char *suffix = getenv("SLOW_DNS_SUFFIX");
  if (!real) real = (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
  if (node && suffix && *suffix && strlen(node) >= strlen(suffix) &&
      strcmp(node + strlen(node) - strlen(suffix), suffix) == 0) {
    fprintf(stderr, "slow_io: getaddrinfo(%s) sleeps %d s\n", node, env_int("SLOW_DNS_SECONDS", 30));
    sleep((unsigned)env_int("SLOW_DNS_SECONDS", 30));
    node = "127.0.0.1";
  }
  return real(node, service, hints, res);
}
