/*
 * alloc_count.c: a counting allocator for benchmarks (scripts/bench-alloc), loaded with
 * LD_PRELOAD into every process of a replay. It counts the calls to malloc, calloc, realloc,
 * posix_memalign/aligned_alloc/memalign and free, passes each to glibc's own allocator
 * (__libc_malloc and friends), and at exit appends one line per process to the file named by
 * $ROWCAST_ALLOC_COUNT_OUT:
 *
 *   <program> <pid> malloc <n> calloc <n> realloc <n> memalign <n> free <n>
 *
 * With $ROWCAST_ALLOC_COUNT_TRACE=N, every Nth allocation of a process whose name contains
 * $ROWCAST_ALLOC_COUNT_PROG (all when unset) prints its call stack to stderr, to find where
 * allocations come from.
 *
 * Not a product part: nothing links it, and it is built as a module only for the benchmark.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t a, size_t n);
extern void __libc_free(void *p);

static atomic_ulong n_malloc, n_calloc, n_realloc, n_memalign, n_free, n_all;
static long trace_every = -1; /* -1: not read yet, 0: off */
static __thread int in_trace;

static void maybe_trace(void) {
  if (in_trace) return;
  in_trace = 1;
  if (trace_every < 0) {
    const char *e = getenv("ROWCAST_ALLOC_COUNT_TRACE"), *prog = getenv("ROWCAST_ALLOC_COUNT_PROG");
    trace_every = e && (!prog || strstr(program_invocation_short_name, prog)) ? atol(e) : 0;
  }
  if (trace_every > 0 && atomic_fetch_add(&n_all, 1) % (unsigned long)trace_every == 0) {
    void *frames[16];
    int n = backtrace(frames, 16);
    backtrace_symbols_fd(frames, n, 2);
    if (write(2, "--\n", 3) != 3) {
    }
  }
  in_trace = 0;
}

void *malloc(size_t n) {
  atomic_fetch_add_explicit(&n_malloc, 1, memory_order_relaxed);
  maybe_trace();
  return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) {
  atomic_fetch_add_explicit(&n_calloc, 1, memory_order_relaxed);
  maybe_trace();
  return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n) {
  atomic_fetch_add_explicit(&n_realloc, 1, memory_order_relaxed);
  maybe_trace();
  return __libc_realloc(p, n);
}

void free(void *p) {
  if (p) atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
  __libc_free(p);
}

void *memalign(size_t a, size_t n) {
  atomic_fetch_add_explicit(&n_memalign, 1, memory_order_relaxed);
  maybe_trace();
  return __libc_memalign(a, n);
}

void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }

int posix_memalign(void **out, size_t a, size_t n) {
  void *p = memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

__attribute__((destructor)) static void alloc_count_report(void) {
  const char *path = getenv("ROWCAST_ALLOC_COUNT_OUT");
  if (!path) return;
  char line[512];
  int n = snprintf(line, sizeof line, "%s %ld malloc %lu calloc %lu realloc %lu memalign %lu free %lu\n",
                   program_invocation_short_name, (long)getpid(), atomic_load(&n_malloc), atomic_load(&n_calloc),
                   atomic_load(&n_realloc), atomic_load(&n_memalign), atomic_load(&n_free));
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) return;
  if (write(fd, line, (size_t)n) != n) { /* a benchmark's report: nothing more to do */
  }
  close(fd);
}
