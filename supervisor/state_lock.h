/*
 * state_lock.h: one rowcast per state.dir. The supervisor takes an exclusive flock on
 * <state.dir>/lock, which holds its pid and its run directory, and its stages inherit the
 * locked descriptor (group.c's spawn_stage keeps it open across exec): the lock is free only
 * once the supervisor and every stage it started are gone, so a second `rowcast replay` or
 * `rowcast run` cannot start beside the children of a supervisor killed a moment ago.
 * `rowcast stats` only reads stats.json and takes no lock.
 */
#ifndef RC_STATE_LOCK_H
#define RC_STATE_LOCK_H

#include <stddef.h>

/* Take the lock of state_dir. If it is held by a live rowcast, fail at once naming its pid; if
 * its holder is gone but its stages still run, wait up to wait_ms for them to exit. Returns the
 * locked descriptor (close-on-exec; the caller clears that flag in the stages it starts), or -1
 * with errstr naming the lock file and the pid. *prev_run_dir gets the run directory the
 * previous holder recorded (to remove it when it is left behind), "" if none. */
int rc_state_lock(const char *state_dir, int wait_ms, char *prev_run_dir, size_t prev_size, char *errstr,
                  size_t errstr_size);
/* Record this process's pid and its run directory (own: a temporary one rowcast created and
 * removes) in the lock file. 0 or -1. */
int rc_state_lock_record(int fd, const char *run_dir, int own);

#endif
