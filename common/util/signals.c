/* signals.c: the self-pipe signal catcher of signals.h. */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int self_pipe[2] = {-1, -1};
static volatile sig_atomic_t *caught;

static void on_signal(int sig) {
  int saved = errno;
  if (caught && sig != SIGCHLD) *caught = sig; /* a child's exit only wakes the loop */
  char c = (char)sig;
  ssize_t w = write(self_pipe[1], &c, 1);
  (void)w;
  errno = saved;
}

int rc_signals_wake_on_child(void) {
  if (self_pipe[1] < 0) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGCHLD, &sa, NULL);
}

int rc_signals_catch(volatile sig_atomic_t *flag, int keep_ignored_sigint) {
  if (pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  caught = flag;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  struct sigaction old;
  if (!keep_ignored_sigint || (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN))
    sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  return self_pipe[0];
}

int rc_signals_also(int sig) {
  if (self_pipe[1] < 0) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, NULL);
}

int rc_signals_drain(void) {
  char c[64];
  ssize_t n;
  int other = 0;
  while ((n = read(self_pipe[0], c, sizeof c)) > 0)
    for (ssize_t i = 0; i < n; i++) other |= c[i] != (char)SIGCHLD;
  return other;
}

void rc_signals_close(void) {
  for (int i = 0; i < 2; i++)
    if (self_pipe[i] >= 0) {
      close(self_pipe[i]);
      self_pipe[i] = -1;
    }
}
