/*
 * signals.h: the one way rowcast's processes catch SIGTERM and SIGINT: the handler only stores
 * the signal number in the caller's flag and writes a byte to a self-pipe that the event loop
 * polls. SIGPIPE is ignored (a closed pipe is an error return, not a death).
 */
#ifndef RC_SIGNALS_H
#define RC_SIGNALS_H

#include <signal.h>

/* Catch SIGTERM and SIGINT into *flag; with keep_ignored_sigint, a SIGINT the parent set to
 * ignored stays ignored (stages under a supervisor). Returns the self-pipe's non-blocking read
 * end, or -1. Once per process. */
int rc_signals_catch(volatile sig_atomic_t *flag, int keep_ignored_sigint);
/* Catch sig (e.g. SIGUSR1) the same way, into the flag of rc_signals_catch. 0 or -1. */
int rc_signals_also(int sig);
/* Also write to the self-pipe when a child exits (SIGCHLD), without touching the flag: the
 * supervisor's poll wakes at once instead of at its next timeout. */
int rc_signals_wake_on_child(void);
/* Empty the self-pipe after poll() said it is readable. Returns 1 if a caught signal other
 * than SIGCHLD was among what it held, else 0. */
int rc_signals_drain(void);
/* Close the self-pipe: a forked child does this before exec. */
void rc_signals_close(void);

#endif
